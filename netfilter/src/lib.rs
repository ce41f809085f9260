//! Ergonomic NFQUEUE and NFLOG for Rust.
//!
//! The crate most programs depend on: queues whose packets come out owned and take their
//! verdict when and where the program likes, log groups whose packets come out owned, and
//! every lower layer re-exported, so that one dependency gives every level.
//!
//! | you want | use |
//! |---|---|
//! | hold packets, verdict them from any thread, batch verdicts, async | [`Queue`], [`Packet`] |
//! | see copies of packets as they are logged | [`LogGroup`] |
//! | the C libraries' API, made safe | [`safe`] |
//! | the raw C calls | [`sys::queue`], [`sys::log`] |
//!
//! # A queue in the python-netfilterqueue style
//!
//! ```no_run
//! use netfilter::Queue;
//!
//! fn main() -> Result<(), netfilter::Error> {
//!     // iptables -I INPUT -p tcp --dport 80 -j NFQUEUE --queue-num 1
//!     let mut queue = Queue::builder(1).open()?;
//!     queue.run(|mut packet| {
//!         println!("{:?}: {} bytes", packet.hook(), packet.payload().len());
//!         if packet.mark() == 0 {
//!             packet.set_mark(0x10);
//!         }
//!         packet.accept()
//!     })
//! }
//! ```
//!
//! # Packets are owned
//!
//! A [`Packet`] is `Send`: keep it, hand it to a worker thread, and give its verdict later,
//! in any order, while the receive loop goes on. Verdict methods consume the packet, so a
//! second verdict cannot be written; a packet dropped without one gets its queue's default
//! verdict ([`QueueBuilder::default_verdict`], accept unless set), so nothing is stranded in
//! the kernel. Its payload is a [`bytes::Bytes`] slice of the datagram the kernel sent: no
//! copy is made.
//!
//! # Verdicts travel in batches
//!
//! Verdicts given while more received packets are waiting to be handed out are held back and
//! sent together, consecutive equal verdicts as one batch verdict; the rest are sent at once.
//! Nothing waits for more traffic. [`QueueBuilder::batching`] turns this off.
//!
//! # Event loops and async
//!
//! [`Queue::fd`] and [`Queue::try_recv`] let any event loop drive a queue. With the `tokio`
//! feature, [`tokio::AsyncQueue`] is a `Stream` of packets.
//!
//! # Testing without a kernel
//!
//! Queues and log groups speak the netlink protocol themselves (with [`safe::wire`]) over a
//! [`safe::transport::Transport`], so a test can give them the testkit's fake kernel
//! ([`QueueBuilder::transport`]): feed synthesized packets, read back the verdicts.
//!
//! # Features
//!
//! - `tokio`: [`tokio::AsyncQueue`], an async stream of packets on tokio's reactor.
//!
//! # Licence
//! libnetfilter_queue and libnetfilter_log are GPL-2.0-or-later: a program that links them
//! (every program using this crate does) is bound by that licence, whatever the licence of this
//! crate's own source (MIT OR Apache-2.0).
#![deny(missing_docs)]

mod conn;
mod error;
mod packet;
pub mod payload;
mod queue;
mod verdicts;

#[cfg(feature = "tokio")]
pub mod tokio;

pub use conn::Namespace;
pub use error::{Error, Result};
pub use netfilter_safe as safe;
pub use netfilter_safe::queue::{QueueFlags, SkbInfo};
pub use netfilter_safe::{CopyMode, Family, Hook};
pub use packet::{MAX_VERDICT_PAYLOAD, Packet, Verdict, VerdictKind};
pub use queue::{Incoming, MAX_COPY_RANGE, Queue, QueueBuilder, QueueStats};

/// The raw bindings, for calls the safe layers do not expose.
pub mod sys {
    pub use netfilter_log_sys as log;
    pub use netfilter_queue_sys as queue;
}

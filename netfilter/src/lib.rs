//! Ergonomic NFQUEUE and NFLOG for Rust.
//!
//! The crate most programs depend on: queues whose packets come out owned and take their
//! verdict when and where the program likes, log groups whose packets come out owned (or are
//! lent to a callback, at C's cost), and every lower layer re-exported, so that one dependency
//! gives every level.
//!
//! | you want | use |
//! |---|---|
//! | hold packets, verdict them from any thread, batch verdicts, async | [`Queue`], [`Packet`] |
//! | see copies of packets as they are logged | [`LogGroup`], [`LogPacket`]; [`LogGroup::recv_batch`] for the most messages per CPU second |
//! | the wire protocol: typed messages, the socket, procfs rows | [`safe::wire`], [`safe::transport`], [`safe::procfs`] |
//! | the C libraries' API, made safe (feature `ffi`) | `safe::queue`, `safe::log` |
//! | the raw C calls (feature `ffi`) | `sys::queue`, `sys::log` |
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
//! verdict ([`QueueBuilder::default_verdict`]): **drop** unless set, so a forgotten verdict
//! fails closed and nothing is stranded in the kernel. A packet holds its message as a
//! [`bytes::Bytes`] slice of the datagram the kernel sent (no copy is made) and decodes each
//! attribute when asked; its payload is a `&[u8]` into that datagram ([`Packet::payload`]), or a `Bytes` that shares it
//! ([`Packet::payload_bytes`]). Receiving allocates nothing in steady state.
//!
//! # Verdicts travel in batches
//!
//! The packets of one receive (up to 64 datagrams the kernel had waiting) are handed out one
//! by one; verdicts given meanwhile are held back and sent together, in one send, consecutive
//! equal verdicts as one batch verdict. They go when the last packet handed out gets its
//! verdict, or when the loop asks for a packet and none is ready (before it waits for more),
//! whichever comes first; any other verdict is sent at once. Nothing waits for more traffic.
//! [`Queue::flush`] sends what is held back now; [`QueueBuilder::batching`] turns holding
//! back off.
//!
//! A verdict that changes the packet's connection ([`Verdict::with_conn_mark`],
//! [`Packet::set_conn_mark`]) or replaces its payload always goes as a verdict of its own:
//! the kernel's batch verdict carries neither. [`conntrack`] has the connection's typed view
//! ([`Packet::conntrack`], [`LogPacket::conntrack`]).
//!
//! # Stopping, signals and `EINTR`
//!
//! [`Queue::stop_handle`] and [`LogGroup::stop_handle`] give a [`StopHandle`]: from another
//! thread, or from a signal handler (its `stop` is async-signal-safe), it ends a blocked
//! `run` (which returns `Ok(())`) or `recv` (which returns [`Error::Stopped`]); nothing is
//! lost, and held packets still take their verdicts. Receives retry `EINTR`, so a signal never
//! ends one by itself, and a handler that wants the loop to end says so with the handle:
//!
//! ```no_run
//! use std::sync::OnceLock;
//! use netfilter::{Queue, StopHandle};
//!
//! static STOP: OnceLock<StopHandle> = OnceLock::new();
//!
//! extern "C" fn on_sigterm(_: libc::c_int) {
//!     if let Some(stop) = STOP.get() {
//!         stop.stop();
//!     }
//! }
//!
//! fn main() -> netfilter::Result<()> {
//!     let mut queue = Queue::builder(0).open()?;
//!     let _ = STOP.set(queue.stop_handle()?);
//!     // SAFETY: `on_sigterm` only calls async-signal-safe functions.
//!     unsafe { libc::signal(libc::SIGTERM, on_sigterm as libc::sighandler_t) };
//!     queue.run(|packet| packet.accept())?; // returns on SIGTERM
//!     println!("stopped; {:?}", queue.stats()?);
//!     Ok(())
//! }
//! ```
//!
//! # Event loops and async
//!
//! [`Queue::fd`] and [`Queue::try_recv`] let any event loop drive a queue. With the `tokio`
//! feature, `tokio::AsyncQueue` is a `Stream` of packets.
//!
//! # Testing without a kernel
//!
//! Queues and log groups speak the netlink protocol themselves (with [`safe::wire`]) over a
//! [`safe::transport::Transport`], so a test can give them the testkit's fake kernel
//! ([`QueueBuilder::transport`]): feed synthesized packets, read back the verdicts. No root,
//! no namespace:
//!
//! ```
//! use netfilter::{Packet, Queue};
//! use netfilter_testkit::fake::FakeKernel;
//! use netfilter_testkit::synth::{QueuePacketBuilder, payload};
//!
//! /// The logic under test: drop datagrams that say "attack", accept the rest.
//! fn decide(packet: Packet) -> netfilter::Result<()> {
//!     if packet.payload().ends_with(b"attack") { packet.drop() } else { packet.accept() }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (kernel, transport) = FakeKernel::new()?;
//! let mut queue = Queue::builder(0).transport(transport).open()?;
//! let datagram = |text: &[u8]| {
//!     payload::ipv4_udp([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, text)
//! };
//! let good = kernel.queue_packet(QueuePacketBuilder::ipv4(0).payload(datagram(b"hello")?))?;
//! let bad = kernel.queue_packet(QueuePacketBuilder::ipv4(0).payload(datagram(b"attack")?))?;
//! decide(queue.recv()?)?;
//! decide(queue.recv()?)?;
//! queue.flush()?;
//! assert_eq!(kernel.verdict(0, good).map(|v| v.verdict), Some(1)); // NF_ACCEPT
//! assert_eq!(kernel.verdict(0, bad).map(|v| v.verdict), Some(0)); // NF_DROP
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `tokio`: `tokio::AsyncQueue` and `tokio::AsyncLogGroup`, async packets on tokio's reactor.
//! - `ffi`: the C-backed layers, `sys` (raw bindings to libnetfilter_queue and
//!   libnetfilter_log) and the C half of [`safe`] (`safe::queue::QueueHandle`,
//!   `safe::log::LogHandle`, `safe::InterfaceTable`). It needs the C libraries' -dev packages,
//!   pkg-config and libclang at build time. [`Queue`] and [`LogGroup`] do not use it: they
//!   speak the netlink protocol themselves, in Rust.
//!
//! # Licence
//!
//! This crate's source is MIT OR Apache-2.0. With default features (and with `tokio`) it links
//! no C library beyond libc: a program that uses it is not bound by the GPL through it.
//! With `ffi` it links libnetfilter_queue, libnetfilter_log, libnfnetlink and libmnl, which are
//! GPL-2.0-or-later: a program built with that feature is bound by their licence.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod conn;
pub mod conntrack;
mod error;
pub mod log;
mod packet;
pub mod payload;
mod queue;
mod slabs;
mod stop;
mod verdicts;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;

pub use conn::Namespace;
pub use error::{Error, Result};
pub use log::{LogBuilder, LogFlags, LogGroup, LogIncoming, LogPacket, LogPacketRef};
pub use netfilter_safe as safe;
pub use netfilter_safe::{CopyMode, Family, Hook, QueueFlags, SkbInfo};
pub use packet::{MAX_VERDICT_PAYLOAD, Packet, Verdict, VerdictKind};
pub use queue::{Incoming, MAX_COPY_RANGE, Queue, QueueBuilder, QueueStats};
pub use stop::StopHandle;

#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
pub use netfilter_safe::sys;

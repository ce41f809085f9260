//! A safe, one-to-one layer over libnetfilter_queue and libnetfilter_log.
//!
//! The C APIs in their own terms, without `unsafe`: RAII handles, callbacks whose packet views
//! cannot outlive the call, and no hidden receive loop. The caller receives datagrams (with the
//! handle's `recv`, or from any event loop watching its descriptor) and passes them to
//! `handle_packet`, which runs the callbacks.
//!
//! - [`queue`]: NFQUEUE. [`queue::QueueHandle`] → [`queue::Queue`] (with its callback) →
//!   [`queue::QueueMessage`] views; verdicts inside the callback or later by id.
//! - [`log`]: NFLOG. [`log::LogHandle`] → [`log::LogGroup`] → [`log::LogData`] views.
//! - [`wire`]: the workspace's one definition of the nfnetlink wire layout, which the views
//!   use for the attributes the C libraries drop ([`queue::QueueMessage::attributes`]).
//! - [`InterfaceTable`]: interface names for the `*_name` getters.
//!
//! Programs that want owned packets, verdicts from any thread, batching or async use the
//! `netfilter` crate, built on this one.
//!
//! # Example: print and accept (the python-netfilterqueue classic)
//!
//! ```no_run
//! use netfilter_safe::queue::{QueueHandle, Verdict};
//! use netfilter_safe::CopyMode;
//!
//! fn main() -> Result<(), netfilter_safe::Error> {
//!     // iptables -I INPUT -p udp --dport 5353 -j NFQUEUE --queue-num 1
//!     let handle = QueueHandle::open()?;
//!     let queue = handle.create_queue(1, |msg| {
//!         println!("{:?} id {} mark {:#x}", msg.hook(), msg.id(), msg.mark());
//!         if let Err(err) = msg.set_verdict(Verdict::Accept, None, None) {
//!             eprintln!("verdict: {err}");
//!         }
//!     })?;
//!     queue.set_mode(CopyMode::Packet, 0xffff)?;
//!     let mut buf = vec![0u8; 0x10000 + 4096];
//!     loop {
//!         let n = match handle.recv(&mut buf) {
//!             Ok(n) => n,
//!             // The kernel dropped packets for lack of buffer: report and go on.
//!             Err(netfilter_safe::Error::Overrun) => continue,
//!             Err(err) => return Err(err),
//!         };
//!         handle.handle_packet(&buf[..n])?;
//!     }
//! }
//! ```
//!
//! # Panics in callbacks
//!
//! A panic in a callback is caught before it reaches C. The rest of the datagram is still
//! dispatched (so no queued packet of it is left without a verdict), and `handle_packet`
//! returns [`Error::CallbackPanic`] with the payload; [`Error::resume_panic`] re-raises it.
//!
//! # Threads
//!
//! Handles are `Send` but not `Sync`: move one to another thread, but use it from one thread at
//! a time. Queues and log groups borrow their handle, so they are neither.
//!
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<netfilter_safe::queue::QueueHandle>();
//! ```
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<netfilter_safe::log::LogHandle>();
//! ```
//! ```compile_fail
//! fn send<T: Send>() {}
//! send::<netfilter_safe::queue::Queue<'static>>();
//! ```
//! ```compile_fail
//! fn send<T: Send>() {}
//! send::<netfilter_safe::log::LogGroup<'static>>();
//! ```
//! ```
//! fn send<T: Send>() {}
//! send::<netfilter_safe::queue::QueueHandle>();
//! send::<netfilter_safe::log::LogHandle>();
//! send::<netfilter_safe::InterfaceTable>();
//! ```
//!
//! # Licence
//!
//! libnetfilter_queue and libnetfilter_log are GPL-2.0-or-later: a program that links them is
//! bound by that licence, whatever the licence of this crate (MIT OR Apache-2.0).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
pub mod wire;

#[cfg(feature = "ffi")]
mod dispatch;
mod error;
#[cfg(feature = "ffi")]
mod iftable;
#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
pub mod log;
pub mod netns;
pub mod procfs;
#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
pub mod queue;
mod socket;
pub mod transport;
mod types;
#[cfg(feature = "ffi")]
mod view;
#[cfg(feature = "ffi")]
mod xml;

pub use error::{Error, PanicPayload, Result};
#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
pub use iftable::InterfaceTable;
pub use types::{
    CopyMode, Family, Hook, LogFlags, MAX_VERDICT_PAYLOAD, QueueFlags, SkbInfo, Verdict,
};

/// The raw bindings this layer wraps (feature `ffi`).
#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
pub mod sys {
    pub use netfilter_log_sys as log;
    pub use netfilter_queue_sys as queue;
}

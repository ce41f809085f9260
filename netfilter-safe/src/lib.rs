//! The lower safe layer of netfilter-rs: the nfnetlink wire protocol of NFQUEUE and NFLOG in
//! pure Rust, and (feature `ffi`) a safe one-to-one layer over libnetfilter_queue and
//! libnetfilter_log.
//!
//! Programs that want owned packets, verdicts from any thread, batching or async use the
//! `netfilter` crate, built on this one; it re-exports this crate as `netfilter::safe`.
//!
//! # The pure-Rust half (always)
//!
//! No C library is needed to build it or linked into a program that uses it.
//!
//! - [`wire`]: the workspace's one definition of the nfnetlink wire layout: checked views and
//!   typed messages that parse and emit through one layout, and [`wire::uapi`], the kernel's
//!   constants and structs.
//! - [`transport`]: the [`Transport`](transport::Transport) trait and
//!   [`NetlinkSocket`](transport::NetlinkSocket), a `NETLINK_NETFILTER` socket that receives
//!   batches of datagrams with one `recvmmsg`.
//! - [`procfs`]: the kernel's rows of `/proc/net/netfilter/nfnetlink_{queue,log}`.
//! - [`netns`]: running a closure in another network namespace.
//! - The types every layer shares: [`Verdict`], [`QueueFlags`], [`SkbInfo`], [`LogFlags`],
//!   [`CopyMode`], [`Family`], [`Hook`], and the one [`Error`].
//!
//! ## Example: a verdict message, byte for byte
//!
//! ```
//! use netfilter_safe::Verdict as Kind;
//! use netfilter_safe::wire::{Emit, Message, Messages, Verdict};
//!
//! # fn main() -> Result<(), netfilter_safe::wire::WireError> {
//! let mut verdict = Verdict::default();
//! verdict.header.res_id = 3; // queue 3
//! verdict.verdict_hdr.id = 42; // packet 42
//! verdict.verdict_hdr.verdict = Kind::Accept.raw();
//! verdict.mark = Some(0x10);
//! let bytes = verdict.to_bytes()?; // what a program sends the kernel
//! assert_eq!(bytes.len(), verdict.buffer_len());
//! match Messages::new(&bytes).next() {
//!     Some(Ok(Message::Verdict(parsed))) => assert_eq!(parsed, verdict),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
#![cfg_attr(feature = "ffi", doc = include_str!("ffi.md"))]
#![cfg_attr(
    not(feature = "ffi"),
    doc = "# The C-backed half (feature `ffi`)\n\nNot built: `queue`, `log`, `InterfaceTable` \
           and `sys` come with the `ffi` feature, which links libnetfilter_queue and \
           libnetfilter_log (GPL-2.0-or-later)."
)]
//!
//! # Licence
//!
//! This crate's source is MIT OR Apache-2.0. Without `ffi` it links no C library beyond libc.
//! With `ffi` it links libnetfilter_queue and libnetfilter_log (and libnfnetlink, libmnl),
//! which are GPL-2.0-or-later: a program built with that feature is bound by their licence.
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

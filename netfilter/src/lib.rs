//! Ergonomic NFQUEUE and NFLOG for Rust.
//!
//! This crate is the one most programs depend on. Today it gives every lower layer from one
//! dependency; the queue and log-group API is being built on top of them:
//!
//! - [`sys::queue`] and [`sys::log`]: the raw bindgen bindings to libnetfilter_queue and
//!   libnetfilter_log.
//! - [`safe`]: the one-to-one safe layer over both C libraries.
//!
//! # Licence
//! libnetfilter_queue and libnetfilter_log are GPL-2.0-or-later: a program that links them
//! (every program using this crate does) is bound by that licence, whatever the licence of this
//! crate's own source (MIT OR Apache-2.0).
#![deny(missing_docs)]

pub use netfilter_safe as safe;

/// The raw bindings, for calls the safe layers do not expose.
pub mod sys {
    pub use netfilter_log_sys as log;
    pub use netfilter_queue_sys as queue;
}

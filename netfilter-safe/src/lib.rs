//! netfilter-safe (under construction).
pub mod wire;

//! netfilter-testkit (under construction).
pub mod synth;

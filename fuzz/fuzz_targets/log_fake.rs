#![no_main]
//! Fuzz target `log_fake`: see `netfilter_fuzz::log_fake`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::log_fake(data));

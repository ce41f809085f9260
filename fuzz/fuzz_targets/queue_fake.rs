#![no_main]
//! Fuzz target `queue_fake`: see `netfilter_fuzz::queue_fake`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::queue_fake(data));

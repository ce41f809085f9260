#![no_main]
//! Fuzz target `fake_requests`: see `netfilter_fuzz::fake_requests`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::fake_requests(data));

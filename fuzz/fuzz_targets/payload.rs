#![no_main]
//! Fuzz target `payload`: see `netfilter_fuzz::payload`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::payload(data));

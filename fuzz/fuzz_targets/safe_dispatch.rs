#![no_main]
//! Fuzz target `safe_dispatch`: see `netfilter_fuzz::safe_dispatch`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::safe_dispatch(data));

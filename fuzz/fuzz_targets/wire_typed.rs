#![no_main]
//! Fuzz target `wire_typed`: see `netfilter_fuzz::wire_typed`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::wire_typed(data));

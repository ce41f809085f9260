#![no_main]
//! Fuzz target `wire_messages`: see `netfilter_fuzz::wire_messages`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::wire_messages(data));

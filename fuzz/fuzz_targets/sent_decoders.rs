#![no_main]
//! Fuzz target `sent_decoders`: see `netfilter_fuzz::sent_decoders`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| netfilter_fuzz::sent_decoders(data));

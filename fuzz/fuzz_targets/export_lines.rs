//! Fuzz target: the export stream reader and its MAC (tests/properties/checks.rs).
#![no_main]
#![allow(dead_code)]

include!("../../tests/properties/checks.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| export_stream(data));

//! Fuzz target: the token endpoint's form parsing (tests/properties/checks.rs).
#![no_main]
#![allow(dead_code)]

include!("../../tests/properties/checks.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| form(data));

//! Fuzz target: the revocation feed's cursor (tests/properties/checks.rs).
#![no_main]
#![allow(dead_code)]

include!("../../tests/properties/checks.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| cursor(data));

//! Fuzz target: the PKCE verifier check (tests/properties/checks.rs).
#![no_main]
#![allow(dead_code)]

include!("../../tests/properties/checks.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| pkce(data));

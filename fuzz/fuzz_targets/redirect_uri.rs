//! Fuzz target: redirect-URI registration and matching (tests/properties/checks.rs).
#![no_main]
#![allow(dead_code)]

include!("../../tests/properties/checks.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| redirect(data));

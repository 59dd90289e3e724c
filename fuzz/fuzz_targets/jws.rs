//! Fuzz target: JWS verification in tessera and tessera-verify (header and claims chosen field by field, signed or not) (tests/properties/checks.rs).
#![no_main]
#![allow(dead_code)]

include!("../../tests/properties/checks.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| jws(data));

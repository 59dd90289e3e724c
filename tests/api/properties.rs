//! Issue 24, item 8: the properties of the code that parses hostile input, run on random
//! input in every suite run (proptest, bounded). The same checks are the cargo-fuzz targets
//! under `fuzz/`, which were each run for ten minutes (BENCHMARKS.md, "Fuzzing").

#![allow(dead_code)]

include!("../properties/checks.rs");

use proptest::prelude::*;

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn the_token_form_parser_keeps_its_bounds(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        form(&data);
    }

    #[test]
    fn a_feed_cursor_reads_back_as_itself(data in "[A-Za-z0-9_-]{0,100}") {
        cursor(data.as_bytes());
    }

    #[test]
    fn the_export_reader_takes_any_stream_without_panicking(data in proptest::collection::vec(any::<u8>(), 0..800)) {
        export_stream(&data);
    }

    #[test]
    fn an_export_stream_of_near_valid_lines_is_authentic_only_when_signed(
        lines in proptest::collection::vec(
            prop_oneof![
                Just(r#"{"type":"header","format":"tessera-export","version":1,"exported_at":"2026-01-01T00:00:00Z"}"#.to_owned()),
                "[ -~]{0,40}",
                Just(r#"{"type":"end","rows":0}"#.to_owned()),
            ],
            0..6,
        )
    ) {
        export_stream(lines.join("\n").as_bytes());
    }

    #[test]
    fn a_redirect_uri_matches_only_itself_or_its_loopback_port_twin(
        registered in prop_oneof!["http://127\\.0\\.0\\.1(:[0-9]{1,5})?/[a-z]{0,3}", "https://[a-z]{1,5}\\.example/[a-z/.]{0,6}", "[ -~]{0,30}"],
        requested in prop_oneof!["http://127\\.0\\.0\\.1(:[0-9]{1,6})?/[a-z%.]{0,4}(#x)?", "http://\\[::1\\](:[0-9]{1,5})?/[a-z]{0,3}", "[ -~]{0,30}"],
    ) {
        redirect(format!("{registered}\0{requested}").as_bytes());
    }

    #[test]
    fn a_pkce_verifier_matches_exactly_its_s256(
        verifier in "[A-Za-z0-9._~-]{40,130}|[ -~]{0,50}",
        challenge in "[A-Za-z0-9_-]{43}|[ -~]{0,50}",
    ) {
        pkce(format!("{verifier}\0{challenge}").as_bytes());
    }

    #[test]
    fn no_token_the_key_did_not_sign_verifies_in_tessera_or_tessera_verify(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        jws(&data);
    }
}

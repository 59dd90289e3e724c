//! OpenID Connect Core 1.0 and Discovery 1.0: the OpenID Foundation's Basic OP and Config OP test-plan modules, each
//! re-enacted by `tests/browser/oidcc.mjs` with openid-client as the relying party (the
//! conformance suite itself needs a Java build and a database this machine cannot fetch).
//! One test per module, named after it; each runs on its own embedded store.

use std::sync::Arc;

use rstest::rstest;
use serde_json::{json, Value};

use crate::helpers::{spawn_on, Backend, TestDb, STRONG_PASSWORD};

const EMAIL: &str = "conformance@example.com";

#[rstest]
#[case::oidcc_server("oidcc-server")]
#[case::oidcc_idtoken_kid("oidcc-idtoken-kid")]
#[case::oidcc_userinfo_get("oidcc-userinfo-get")]
#[case::oidcc_userinfo_post_header("oidcc-userinfo-post-header")]
#[case::oidcc_userinfo_post_body("oidcc-userinfo-post-body")]
#[case::oidcc_scope_profile("oidcc-scope-profile")]
#[case::oidcc_scope_email("oidcc-scope-email")]
#[case::oidcc_scope_address("oidcc-scope-address")]
#[case::oidcc_scope_phone("oidcc-scope-phone")]
#[case::oidcc_scope_all("oidcc-scope-all")]
#[case::oidcc_display_page("oidcc-display-page")]
#[case::oidcc_display_popup("oidcc-display-popup")]
#[case::oidcc_prompt_login("oidcc-prompt-login")]
#[case::oidcc_prompt_none_not_logged_in("oidcc-prompt-none-not-logged-in")]
#[case::oidcc_prompt_none_logged_in("oidcc-prompt-none-logged-in")]
#[case::oidcc_max_age_1("oidcc-max-age-1")]
#[case::oidcc_max_age_10000("oidcc-max-age-10000")]
#[case::oidcc_ensure_request_with_unknown_parameter_succeeds(
    "oidcc-ensure-request-with-unknown-parameter-succeeds"
)]
#[case::oidcc_id_token_hint("oidcc-id-token-hint")]
#[case::oidcc_login_hint("oidcc-login-hint")]
#[case::oidcc_ui_locales("oidcc-ui-locales")]
#[case::oidcc_claims_locales("oidcc-claims-locales")]
#[case::oidcc_ensure_request_with_acr_values_succeeds(
    "oidcc-ensure-request-with-acr-values-succeeds"
)]
#[case::oidcc_codereuse("oidcc-codereuse")]
#[case::oidcc_codereuse_30seconds("oidcc-codereuse-30seconds")]
#[case::oidcc_ensure_registered_redirect_uri("oidcc-ensure-registered-redirect-uri")]
#[case::oidcc_ensure_post_request_succeeds("oidcc-ensure-post-request-succeeds")]
#[case::oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported"
)]
#[case::oidcc_claims_essential("oidcc-claims-essential")]
#[case::oidcc_refresh_token("oidcc-refresh-token")]
#[case::oidcc_ensure_pkce_required("oidcc-ensure-pkce-required")]
#[case::oidcc_ensure_pkce_plain_rejected("oidcc-ensure-pkce-plain-rejected")]
#[case::oidcc_ensure_pkce_verifier_checked("oidcc-ensure-pkce-verifier-checked")]
#[case::oidcc_discovery_endpoint_verification("oidcc-discovery-endpoint-verification")]
#[tokio::test]
async fn openid_conformance_module(#[case] module: &str) {
    let app = spawn_on(Arc::new(TestDb::on(Backend::Embedded).await), &[]).await;
    app.user(EMAIL).await;
    let (status, client) = app
        .admin_json(
            reqwest::Method::POST,
            "/admin/clients",
            Some(json!({
                "name": "Conformance RP",
                "public": false,
                "first_party": true,
                "grant_types": ["authorization_code", "refresh_token"],
                "scopes": ["openid", "email", "profile"],
                "redirect_uris": ["https://rp.example.com/cb"],
            })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{client}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    assert!(
        std::path::Path::new(dir).join("node_modules/openid-client").exists(),
        "the conformance modules need tests/browser/node_modules: `bash scripts/test` runs npm ci --prefix tests/browser"
    );
    let out = tokio::process::Command::new("node")
        .current_dir(dir)
        .args([
            "oidcc.mjs",
            &app.public,
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap(),
            EMAIL,
            STRONG_PASSWORD,
            module,
        ])
        .output()
        .await
        .expect("node is needed for the conformance modules");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "{module}: no report: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["passed"], true, "{module}: {report}");
    if !report["notes"].as_array().is_none_or(Vec::is_empty) {
        eprintln!("{module}: {}", report["notes"]);
    }
}

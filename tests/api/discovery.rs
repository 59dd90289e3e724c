//! RFC 6749, book § Endpoints: discovery documents list exactly what exists.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, spawn_backend, Backend, Fetch};

#[apply(backends)]
#[tokio::test]
async fn openid_configuration_and_rfc8414_metadata_describe_this_issuer(backend: Backend) {
    let app = spawn_backend(backend, &[("issuer", "https://auth.example.com/")]).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let response = app.http.get(format!("{}{path}", app.public)).fetch().await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let doc: Value = response.json().await.unwrap();
        assert_eq!(
            doc["issuer"], "https://auth.example.com",
            "{path}: no trailing slash"
        );
        assert_eq!(
            doc["jwks_uri"],
            "https://auth.example.com/.well-known/jwks.json"
        );
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            serde_json::json!(["ES256", "RS256"])
        );
        assert_eq!(
            doc["subject_types_supported"],
            serde_json::json!(["public"])
        );
        assert_eq!(
            doc["authorization_endpoint"],
            "https://auth.example.com/oauth2/authorize"
        );
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            doc["response_modes_supported"],
            serde_json::json!(["query", "form_post"])
        );
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            doc["prompt_values_supported"],
            serde_json::json!(["none", "login", "consent"])
        );
        assert_eq!(
            doc["end_session_endpoint"],
            "https://auth.example.com/oauth2/logout"
        );
    }
}

//! SPEC S13: the committed OpenAPI document matches the code, and is served.

use serde_json::Value;

use crate::helpers::spawn_app;

#[test]
fn committed_openapi_document_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap_or_default();
    let generated = tessera::http::openapi::document();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -q -- openapi > openapi/openapi.json` and commit it"
    );
}

#[tokio::test]
async fn openapi_json_is_served_on_the_public_listener_and_describes_every_route() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/readyz",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/openapi.json",
        "/admin/keys",
    ] {
        assert!(paths.contains_key(path), "{path} undocumented");
    }
    assert_eq!(
        doc["paths"]["/admin/keys"]["get"]["security"][0]["admin_token"],
        serde_json::json!([])
    );
}

//! book § Run the service, book § Endpoints: the admin plane needs a configured bearer token and exists only on the
//! admin listener.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, spawn_backend, Backend, Fetch, ADMIN_TOKEN};

#[apply(backends)]
#[tokio::test]
async fn admin_keys_without_a_token_is_401_with_a_bearer_challenge(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let response = app
        .http
        .get(format!("{}/admin/keys", app.admin))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
}

#[apply(backends)]
#[tokio::test]
async fn admin_keys_with_a_wrong_token_is_401(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    for token in [
        "wrong-token-but-long-enough-0123456789abcdef",
        "short",
        &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1],
    ] {
        let response = app
            .http
            .get(format!("{}/admin/keys", app.admin))
            .bearer_auth(token)
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
    }
    let basic = app
        .http
        .get(format!("{}/admin/keys", app.admin))
        .basic_auth("ops", Some(ADMIN_TOKEN))
        .fetch()
        .await;
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

#[apply(backends)]
#[tokio::test]
async fn admin_keys_with_the_right_token_is_200(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let response = app.admin_get("/admin/keys").fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["keys"].as_array().unwrap().len(), 4);
}

#[apply(backends)]
#[tokio::test]
async fn nothing_administrative_answers_on_the_public_listener(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    for path in ["/admin/keys", "/admin/keys/rotate", "/admin", "/metrics"] {
        let response = app
            .http
            .get(format!("{}{path}", app.public))
            .bearer_auth(ADMIN_TOKEN)
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[apply(backends)]
#[tokio::test]
async fn a_second_configured_token_works_and_no_token_configured_means_no_access(backend: Backend) {
    use sha2::Digest;
    let second = "second-admin-token-6f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let tokens = format!(
        "{},ci:{}",
        crate::helpers::admin_tokens_setting(),
        hex::encode(sha2::Sha256::digest(second))
    );
    let app = crate::helpers::spawn_backend(backend, &[("admin_tokens", &tokens)]).await;
    let response = app
        .http
        .get(format!("{}/admin/keys", app.admin))
        .bearer_auth(second)
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let locked = crate::helpers::spawn_backend(backend, &[("admin_tokens", "")]).await;
    let response = locked.admin_get("/admin/keys").fetch().await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

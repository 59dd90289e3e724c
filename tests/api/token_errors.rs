//! RFC 6749, book § Endpoints: the token endpoint's error contract, shedding under a full hashing queue, discovery of grants, and the client cache.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, spawn_backend, spawn_with, Backend, Fetch, STRONG_PASSWORD};

#[apply(backends)]
#[tokio::test]
async fn malformed_token_requests_get_specific_errors_and_change_nothing(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let error = |r: reqwest::Response| async move {
        (
            r.status(),
            r.json::<Value>().await.unwrap()["error"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };

    let missing = app.token(&[("client_id", "spa")]).await;
    assert_eq!(
        error(missing).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let no_code = app
        .token(&[("grant_type", "authorization_code"), ("client_id", "spa")])
        .await;
    assert_eq!(
        error(no_code).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let unknown = app
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", "spa"),
        ])
        .await;
    assert_eq!(
        error(unknown).await,
        (StatusCode::BAD_REQUEST, "unsupported_grant_type".into())
    );
    let duplicate = app
        .http
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&grant_type=password&client_id=spa")
        .fetch()
        .await;
    assert_eq!(
        error(duplicate).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let json = app
        .http
        .post(app.url("/oauth2/token"))
        .json(&serde_json::json!({"grant_type": "password"}))
        .fetch()
        .await;
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let not_utf8 = app
        .http
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&client_id=spa&username=%ff%fe")
        .fetch()
        .await;
    assert_eq!(
        error(not_utf8).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let long = "x".repeat(5000);
    let oversized = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", &long),
            ("password", "x"),
        ])
        .await;
    assert_eq!(
        error(oversized).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let malformed_email = app
        .password_grant("not-an-email", STRONG_PASSWORD, "openid")
        .await;
    assert_eq!(
        error(malformed_email).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let huge = app
        .http
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=".to_owned() + &"x".repeat(20_000))
        .fetch()
        .await;
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let bad_scope = app
        .password_grant("x@example.com", STRONG_PASSWORD, "openid admin")
        .await;
    assert_eq!(
        error(bad_scope).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );

    let users = app.db.count_rows("users").await;
    assert_eq!(users, 0);
}

#[apply(backends)]
#[tokio::test]
async fn a_full_hashing_queue_answers_503_with_retry_after_at_once(backend: Backend) {
    let app = spawn_backend(
        backend,
        &[
            ("hash_workers", "1"),
            ("hash_queue", "1"),
            ("argon2_memory_kib", "65536"),
            ("argon2_iterations", "4"),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    let requests = (0..12).map(|i| {
        let app = &app;
        async move {
            let begun = std::time::Instant::now();
            let response = app
                .password_grant(&format!("u{i}@example.com"), STRONG_PASSWORD, "openid")
                .await;
            (
                response.status(),
                response.headers().get("retry-after").cloned(),
                begun.elapsed(),
            )
        }
    });
    let results = futures_util::future::join_all(requests).await;
    let shed: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let served: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::BAD_REQUEST)
        .collect();
    assert!(!shed.is_empty(), "some requests must be shed: {results:?}");
    assert!(
        !served.is_empty(),
        "some requests must be served: {results:?}"
    );
    assert!(
        shed.iter().all(|(_, retry, _)| retry.is_some()),
        "503 carries Retry-After"
    );
    let slowest_served = served.iter().map(|(_, _, t)| *t).max().unwrap();
    let fastest_shed = shed.iter().map(|(_, _, t)| *t).min().unwrap();
    assert!(
        fastest_shed < slowest_served,
        "shedding does not wait for a hash ({fastest_shed:?} vs {slowest_served:?}, total {:?})",
        started.elapsed()
    );
}

#[apply(backends)]
#[tokio::test]
async fn discovery_lists_the_token_endpoint_grants_and_auth_methods(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let doc: Value = app.discovery().await;
    assert_eq!(doc["token_endpoint"], "http://127.0.0.1:8080/oauth2/token");
    assert_eq!(
        doc["userinfo_endpoint"],
        "http://127.0.0.1:8080/oauth2/userinfo"
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "password",
            "refresh_token",
            "client_credentials",
            "urn:tessera:grant-type:mfa-otp"
        ])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    assert_eq!(
        doc["pushed_authorization_request_endpoint"],
        "http://127.0.0.1:8080/oauth2/par"
    );
}

/// Postgres + Redis only: it changes the Postgres table behind the instance, as another instance would.
#[tokio::test]
async fn a_client_changed_elsewhere_is_seen_once_the_client_cache_ttl_has_passed() {
    let app = spawn_with(&[("client_cache_ttl", "1")]).await;
    let (id, secret) = app.client(&["client_credentials"], false, false).await;
    let secret = secret.unwrap();
    let ok = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);

    // another instance (or an operator) deletes the client directly in the database
    app.db
        .connect()
        .await
        .execute("DELETE FROM clients WHERE id = $1", &[&id])
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let after = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the cached client must expire"
    );
}

//! book § Signing keys, issue 5: key rotation and emergency revocation across instances sharing
//! Postgres and Redis, pre-publication checked with an independent JOSE library holding a
//! cached key set, the scheduled rotation, and the JWKS lifetime bounds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, cli_env, run_cli, spawn_on, Backend, Fetch, TestApp, TestDb};

/// A confidential client that can get tokens (client_credentials) and introspect.
async fn service_client(app: &TestApp) -> (String, Option<String>) {
    app.client(&["client_credentials"], false, false).await
}

async fn access_token(app: &TestApp, client: &(String, Option<String>)) -> String {
    let response = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&client.0, client.1.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Issues a token and checks its kid is in the same instance's JWKS; returns the kid.
async fn signed_kid_is_published(app: &TestApp, client: &(String, Option<String>)) -> String {
    let token = access_token(app, client).await;
    let kid = TestApp::kid_of(&token);
    let published = app.jwks_kids().await;
    assert!(
        published.contains(&kid),
        "{} signed with {kid}, which its JWKS {published:?} does not hold",
        app.public
    );
    kid
}

pub(crate) fn kid_in_state(keys: &[Value], alg: &str, state: &str) -> String {
    keys.iter()
        .find(|k| k["alg"] == alg && k["state"] == state)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no {state} {alg} key in {keys:?}"))
}

pub(crate) async fn rotate(app: &TestApp, body: Option<&str>) -> reqwest::Response {
    let mut request = app.admin_call(Method::POST, "/admin/keys/rotate");
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    request.fetch().await
}

#[apply(backends)]
#[tokio::test]
async fn a_verifier_that_cached_the_jwks_before_a_rotation_verifies_every_token_issued_after_it(
    backend: Backend,
) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let client = service_client(&app).await;
    let cached = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .fetch()
        .await
        .text()
        .await
        .unwrap();
    let before = kid_in_state(&app.admin_keys().await, "ES256", "next");

    let response = rotate(&app, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let rotated: Vec<&str> = body["rotated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["alg"].as_str().unwrap())
        .collect();
    assert_eq!(
        rotated,
        ["ES256", "RS256"],
        "every enabled algorithm rotates"
    );

    let mut tokens = String::new();
    for _ in 0..5 {
        let token = access_token(&app, &client).await;
        assert_eq!(
            TestApp::kid_of(&token),
            before,
            "the announced next key signs"
        );
        tokens.push_str(&token);
        tokens.push('\n');
    }
    let dir = std::env::temp_dir().join(format!("tessera-jwks-{}", uuid::Uuid::new_v4()));
    std::fs::write(&dir, cached).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/verify_with_cached_jwks.py"
    );
    let mut child = tokio::process::Command::new("python3")
        .args([
            script,
            dir.to_str().unwrap(),
            "http://127.0.0.1:8080",
            "https://api.example.com",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for interop tests");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(tokens.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let _ = std::fs::remove_file(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cached verifier refused: {stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 5);
}

/// Postgres + Redis only: it runs two instances on one store.
#[tokio::test]
async fn rotation_on_one_instance_reaches_the_other_within_5_s_and_neither_signs_with_an_unpublished_key(
) {
    let db = Arc::new(TestDb::new().await);
    // a long poll: the change must travel by notification
    let overrides = [("keyring_poll_interval", "60")];
    let a = spawn_on(db.clone(), &overrides).await;
    let b = spawn_on(db.clone(), &overrides).await;
    let client = service_client(&a).await;
    let old = signed_kid_is_published(&b, &client).await;
    signed_kid_is_published(&a, &client).await;

    let response = rotate(&a, Some(r#"{"alg":"ES256"}"#)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let new = body["rotated"][0]["active_kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(body["rotated"].as_array().unwrap().len(), 1);
    let rotated_at = Instant::now();

    assert_eq!(signed_kid_is_published(&a, &client).await, new);
    loop {
        let (kid_b, _) = tokio::join!(
            signed_kid_is_published(&b, &client),
            signed_kid_is_published(&a, &client)
        );
        if kid_b == new {
            break;
        }
        assert_eq!(kid_b, old, "B signs with the old or the new key only");
        assert!(
            rotated_at.elapsed() < Duration::from_secs(5),
            "B still signs with {old} 5 s after the rotation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = rotated_at.elapsed();
    eprintln!("instance B switched keys {waited:?} after the rotation returned");
    // the old key keeps verifying on both: tokens in flight stay valid
    assert!(b.jwks_kids().await.contains(&old));
}

#[apply(backends)]
#[tokio::test]
async fn without_a_notification_the_version_poll_brings_an_instance_up_to_date(backend: Backend) {
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[("keyring_poll_interval", "1")]).await;
    let client = service_client(&app).await;
    let old = signed_kid_is_published(&app, &client).await;
    // Postgres + Redis: the CLI announces on another prefix's channel, so this instance
    // hears nothing. Embedded: the CLI is another process writing the same file, and
    // notifications never leave a process; the poll is how the server learns.
    let mut env = cli_env(&db);
    if backend == Backend::Postgres {
        env.retain(|(k, _)| *k != "TESSERA_REDIS_PREFIX");
        env.push((
            "TESSERA_REDIS_PREFIX",
            format!("{}elsewhere:", db.redis_prefix()),
        ));
    }
    let out = run_cli(&["keys", "rotate", "--alg", "ES256"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated_at = Instant::now();
    loop {
        let kid = signed_kid_is_published(&app, &client).await;
        if kid != old {
            break;
        }
        assert!(rotated_at.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Postgres + Redis only: it runs two instances on one store.
#[tokio::test]
async fn emergency_revocation_unpublishes_the_key_and_its_tokens_go_inactive_on_every_instance() {
    let db = Arc::new(TestDb::new().await);
    let overrides = [("keyring_poll_interval", "60")];
    let a = spawn_on(db.clone(), &overrides).await;
    let b = spawn_on(db.clone(), &overrides).await;
    let client = service_client(&a).await;
    let token_a = access_token(&a, &client).await;
    let token_b = access_token(&b, &client).await;
    let kid = TestApp::kid_of(&token_b);
    assert_eq!(TestApp::kid_of(&token_a), kid);
    assert_eq!(b.introspect_as(&client, &token_a).await["active"], true);
    let next = kid_in_state(&a.admin_keys().await, "ES256", "next");

    let response = a
        .admin_call(Method::POST, &format!("/admin/keys/{kid}/revoke"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["revoked"], kid.as_str());
    assert_eq!(
        body["promoted"],
        next.as_str(),
        "the announced next key signs now"
    );
    let revoked_at = Instant::now();

    // instance A: at once
    assert!(!a.jwks_kids().await.contains(&kid));
    for token in [&token_a, &token_b] {
        assert_eq!(a.introspect_as(&client, token).await["active"], false);
    }
    assert_eq!(signed_kid_is_published(&a, &client).await, next);
    // instance B: within 5 s
    loop {
        let gone = !b.jwks_kids().await.contains(&kid);
        let inactive = b.introspect_as(&client, &token_a).await["active"] == false
            && b.introspect_as(&client, &token_b).await["active"] == false;
        if gone && inactive {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "B still trusts {kid}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(signed_kid_is_published(&b, &client).await, next);
    // the ring still has an active and a next key for ES256, and the revoked key is gone
    let keys = a.admin_keys().await;
    assert_eq!(kid_in_state(&keys, "ES256", "active"), next);
    let new_next = kid_in_state(&keys, "ES256", "next");
    assert!(new_next != kid && new_next != next);
    assert!(keys.iter().all(|k| k["kid"] != kid.as_str()));

    let again = a
        .admin_call(Method::POST, &format!("/admin/keys/{kid}/revoke"))
        .fetch()
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

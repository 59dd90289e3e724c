//! book § Signing keys: revocation of next and retiring keys, bad rotation requests, the scheduled rotation across instances, and how long retiring keys stay published.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, spawn_on, try_spawn_on, Backend, Fetch, TestApp, TestDb};
use crate::propagation::{kid_in_state, rotate};

#[apply(backends)]
#[tokio::test]
async fn revoking_unknown_kids_is_404_and_rotating_to_a_bad_alg_is_400_naming_the_allowed_ones(
    backend: Backend,
) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let before = app.admin_keys().await;
    for kid in [
        "no-such-kid",
        "..%2F..%2Fetc%2Fpasswd",
        "x'%20OR%201=1--",
        &"k".repeat(300),
    ] {
        let response = app
            .admin_call(Method::POST, &format!("/admin/keys/{kid}/revoke"))
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{kid}");
    }
    for (body, mentions) in [
        (r#"{"alg":"HS256"}"#, "ES256, RS256"),
        (r#"{"alg":"PS256"}"#, "not enabled"),
        (r#"{"alg":"ES256","extra":1}"#, "extra"),
        (r#"not json"#, "JSON"),
    ] {
        let response = rotate(&app, Some(body)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(mentions), "{body}: {text}");
    }
    assert_eq!(
        app.admin_keys().await,
        before,
        "nothing changed on bad input"
    );
}

#[apply(backends)]
#[tokio::test]
async fn revoking_a_next_key_replaces_it_and_revoking_a_retiring_key_just_unpublishes_it(
    backend: Backend,
) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let keys = app.admin_keys().await;
    let (active, next) = (
        kid_in_state(&keys, "RS256", "active"),
        kid_in_state(&keys, "RS256", "next"),
    );
    let response = app
        .admin_call(Method::POST, &format!("/admin/keys/{next}/revoke"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body["promoted"].is_null());
    let keys = app.admin_keys().await;
    assert_eq!(kid_in_state(&keys, "RS256", "active"), active);
    assert_ne!(kid_in_state(&keys, "RS256", "next"), next);

    assert_eq!(
        rotate(&app, Some(r#"{"alg":"RS256"}"#)).await.status(),
        StatusCode::OK
    );
    let response = app
        .admin_call(Method::POST, &format!("/admin/keys/{active}/revoke"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!app.jwks_kids().await.contains(&active));
    assert_eq!(app.admin_keys().await.len(), 4);
}

/// Postgres + Redis only: it runs three instances on one store.
#[tokio::test]
async fn the_scheduled_rotation_runs_once_per_due_key_however_many_instances_check() {
    let db = Arc::new(TestDb::new().await);
    let clock = Arc::new(tessera::clock::FixedClock::starting_now());
    let overrides = [
        ("key_rotation_interval", "86400"),
        ("keyring_poll_interval", "1"),
    ];
    let a = try_spawn_on(db.clone(), &overrides, clock.clone())
        .await
        .unwrap();
    let b = try_spawn_on(db.clone(), &overrides, clock.clone())
        .await
        .unwrap();
    let c = try_spawn_on(db.clone(), &overrides, clock.clone())
        .await
        .unwrap();
    let before = a.admin_keys().await;
    let next = kid_in_state(&before, "ES256", "next");

    // not due: nothing happens
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(a.admin_keys().await, before);

    clock.advance(Duration::from_secs(86_400));
    let started = Instant::now();
    loop {
        if kid_in_state(&c.admin_keys().await, "ES256", "active") == next {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // give every instance more polls: none may rotate again
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let keys = b.admin_keys().await;
    for alg in ["ES256", "RS256"] {
        let retiring = keys
            .iter()
            .filter(|k| k["alg"] == alg && k["state"] == "retiring")
            .count();
        assert_eq!(retiring, 1, "{alg} rotated exactly once: {keys:?}");
    }
    let audit: Value = a
        .admin_get("/admin/audit?type=key_rotated")
        .fetch_json()
        .await;
    let events = audit["events"].as_array().unwrap();
    let rotations: usize = events
        .iter()
        .filter(|e| e["actor"] == "scheduler")
        .map(|e| e["detail"]["rotated"].as_array().unwrap().len())
        .sum();
    assert_eq!(rotations, 2, "one per algorithm: {events:?}");
}

fn max_age(response: &reqwest::Response) -> u64 {
    let value = response.headers()["cache-control"].to_str().unwrap();
    value
        .split(',')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .unwrap()
        .parse()
        .unwrap()
}

#[apply(backends)]
#[tokio::test]
async fn a_retiring_key_stays_published_for_the_longest_ttl_plus_max_age_plus_leeway_and_jwks_max_age_never_outlives_it(
    backend: Backend,
) {
    let db = Arc::new(TestDb::on(backend).await);
    let clock = Arc::new(tessera::clock::FixedClock::starting_now());
    // retire_after = 3600 (the longest token TTL: tokens signed before a lowered TTL keep
    // their lifetime) + 300 (max-age) + 30 (leeway) = 3930 s, with today's TTL at 900 s
    let app = try_spawn_on(db, &[("keyring_poll_interval", "1")], clock.clone())
        .await
        .unwrap();
    let old = kid_in_state(&app.admin_keys().await, "ES256", "active");
    assert_eq!(
        rotate(&app, Some(r#"{"alg":"ES256"}"#)).await.status(),
        StatusCode::OK
    );
    let jwks = |app: &TestApp| app.http.get(app.url("/.well-known/jwks.json")).send();
    assert_eq!(max_age(&jwks(&app).await.unwrap()), 300);

    clock.advance(Duration::from_secs(3930 - 100));
    let response = jwks(&app).await.unwrap();
    // 100 s left, less the sub-second part the database's microseconds dropped
    assert!(
        (99..=100).contains(&max_age(&response)),
        "capped at the time left until the key leaves: {:?}",
        response.headers()["cache-control"]
    );
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("stale-while-revalidate=0"));
    assert!(app.jwks_kids().await.contains(&old));

    clock.advance(Duration::from_secs(99));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        app.jwks_kids().await.contains(&old),
        "still inside the window"
    );

    clock.advance(Duration::from_secs(2));
    let started = Instant::now();
    while app.jwks_kids().await.contains(&old) {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(max_age(&jwks(&app).await.unwrap()), 300);
}

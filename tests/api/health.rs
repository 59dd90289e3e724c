//! Liveness and readiness, and what happens when a backend goes away after start-up.

use std::sync::Arc;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use tessera::clock::FixedClock;

use crate::helpers::{
    backends, redis_url, run_cli, spawn_backend, spawn_on, spawn_on_clock, Backend, Fetch, Proxy,
    TestDb,
};

#[apply(backends)]
#[tokio::test]
async fn healthz_and_readyz_are_ok_when_everything_is_up(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let health = app
        .http
        .get(format!("{}/healthz", app.public))
        .fetch()
        .await;
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.http.get(format!("{}/readyz", app.public)).fetch().await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    let checks = match backend {
        Backend::Postgres => serde_json::json!({"postgres": "ok", "redis": "ok", "keyring": "ok"}),
        Backend::Embedded => serde_json::json!({"sqlite": "ok", "keyring": "ok"}),
    };
    assert_eq!(body["checks"], checks);
}

/// Postgres + Redis only: it drops the Postgres database under a running instance.
#[tokio::test]
async fn losing_postgres_makes_readyz_503_while_the_jwks_is_still_served_from_memory() {
    let db = Arc::new(TestDb::new().await);
    let app = spawn_on(db.clone(), &[]).await;

    db.drop_now().await;

    let ready = app.http.get(format!("{}/readyz", app.public)).fetch().await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.headers().get("retry-after").is_some());
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["postgres"], "unavailable");
    assert_eq!(body["checks"]["redis"], "ok");
    assert!(
        !body.to_string().contains("tessera_t_"),
        "no internal detail: {body}"
    );
    let jwks = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.public))
        .fetch()
        .await;
    assert_eq!(jwks.status(), StatusCode::OK);
}

/// Postgres + Redis only: it is about Redis.
#[tokio::test]
async fn losing_redis_makes_readyz_503_naming_redis() {
    let upstream = redis_url().trim_start_matches("redis://").parse().unwrap();
    let proxy = Proxy::to(upstream).await;
    let proxied = format!("redis://{}", proxy.addr);
    let clock = Arc::new(FixedClock::starting_now());
    let db = Arc::new(TestDb::new().await);
    let app = spawn_on_clock(db, &[("redis_url", &proxied)], clock.clone()).await;
    let ready = app.http.get(format!("{}/readyz", app.public)).fetch().await;
    assert_eq!(ready.status(), StatusCode::OK);

    proxy.cut();
    // readiness is answered from a result at most a second old (issue 12)
    clock.advance(std::time::Duration::from_millis(1100));

    let ready = app.http.get(format!("{}/readyz", app.public)).fetch().await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["redis"], "unavailable");
    assert_eq!(body["checks"]["postgres"], "ok");
}

/// Postgres + Redis only: it counts the pings that reach Postgres through a proxy.
#[tokio::test]
async fn readyz_pings_the_backends_at_most_once_a_second_whoever_asks() {
    let db = Arc::new(TestDb::new().await);
    let proxy = Proxy::to(crate::helpers::pg_addr()).await;
    let url = crate::helpers::db_url_via(&db, &proxy);
    // no key-ring poll during the measurement: only readiness talks to Postgres; the clock
    // moves only when the test moves it
    let clock = Arc::new(FixedClock::starting_now());
    let app = spawn_on_clock(
        db,
        &[("database_url", &url), ("keyring_poll_interval", "60")],
        clock.clone(),
    )
    .await;
    let ready = || async {
        app.http
            .get(format!("{}/readyz", app.public))
            .fetch()
            .await
            .status()
    };
    assert_eq!(ready().await, StatusCode::OK);
    // the key-ring poll's first tick runs as the app starts (the next one a minute later):
    // wait until nothing but readiness talks to Postgres
    quiet(&proxy).await;
    clock.advance(std::time::Duration::from_millis(1100));
    let before = proxy.bytes_sent();
    assert_eq!(ready().await, StatusCode::OK);
    let one_ping = proxy.bytes_sent() - before;
    assert!(one_ping > 0, "a stale result is refreshed");
    let before = proxy.bytes_sent();
    let started = std::time::Instant::now();
    let mut asked = 0;
    while started.elapsed() < std::time::Duration::from_millis(800) && asked < 300 {
        assert_eq!(ready().await, StatusCode::OK);
        asked += 1;
    }
    let spent = proxy.bytes_sent() - before;
    assert!(asked >= 50, "only {asked} requests in 0.8 s");
    assert!(
        spent <= one_ping,
        "{asked} readiness checks in under a second sent {spent} bytes to Postgres ({one_ping} per ping)"
    );
}

#[test]
fn unreachable_postgres_at_start_is_retried_then_named_with_a_non_zero_exit() {
    let started = std::time::Instant::now();
    let out = run_cli(
        &["serve"],
        &[
            (
                "DATABASE_URL",
                "postgres://postgres:s3cret-pw@127.0.0.1:1/tessera",
            ),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("TESSERA_KEK", &crate::helpers::test_kek()),
            ("TESSERA_STARTUP_TIMEOUT", "2"),
            ("TESSERA_LOG", "error"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("PostgreSQL is unreachable at 127.0.0.1:1/tessera"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("s3cret-pw"),
        "{stderr}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "it retried before giving up"
    );
}

/// Postgres + Redis only: it is about Redis.
#[tokio::test]
async fn unreachable_redis_at_start_is_named_with_a_non_zero_exit() {
    let db = TestDb::new().await;
    let out = run_cli(
        &["serve"],
        &[
            ("DATABASE_URL", db.url().as_str()),
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("TESSERA_KEK", crate::helpers::test_kek().as_str()),
            ("TESSERA_STARTUP_TIMEOUT", "1"),
            ("TESSERA_LOG", "error"),
            ("TESSERA_PUBLIC_ADDR", "127.0.0.1:0"),
            ("TESSERA_ADMIN_ADDR", "127.0.0.1:0"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Redis is unreachable at 127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Returns once no byte has gone through `proxy` for two 150 ms windows in a row (at most
/// 5 s): the app's start-up traffic is over.
async fn quiet(proxy: &Proxy) {
    let started = std::time::Instant::now();
    let mut still = 0;
    while still < 2 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the app kept talking to Postgres"
        );
        let before = proxy.bytes_sent();
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        still = if proxy.bytes_sent() == before {
            still + 1
        } else {
            0
        };
    }
}

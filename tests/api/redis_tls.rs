//! Issue 17 (item 2, Redis part): `rediss://` with a private CA (`TESSERA_REDIS_CA_FILE`,
//! rustls). Sessions live in a TLS-only Redis; a wrong CA, a certificate for another host
//! or plain `redis://` to the TLS port fail at start naming Redis, never falling back to
//! clear text. Each test runs its own TLS Redis and CA, so PostgreSQL + Redis only.

use std::sync::Arc;

use reqwest::StatusCode;

use crate::helpers::{spawn_on, try_spawn_on, OwnRedis, TestCa, TestDb};

#[tokio::test]
async fn sessions_live_in_a_tls_only_redis_verified_against_a_private_ca() {
    let ca = TestCa::new("IP:127.0.0.1,DNS:localhost");
    let redis = OwnRedis::start_tls(&ca, &["--save", ""]);
    let ca_file = ca.file("ca.crt");
    let app = spawn_on(
        Arc::new(TestDb::new().await),
        &[("redis_url", &redis.url()), ("redis_ca_file", &ca_file)],
    )
    .await;
    let tokens = app.new_user_tokens("tls@example.com").await;
    let refreshed = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    // the session is in that Redis, which only speaks TLS
    let keys = std::process::Command::new("redis-cli")
        .args([
            "--tls",
            "--cacert",
            &ca_file,
            "-p",
            &redis.port().to_string(),
            "dbsize",
        ])
        .output()
        .unwrap();
    let count: u64 = String::from_utf8_lossy(&keys.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(count > 0, "nothing was written to the TLS Redis");
}

#[tokio::test]
async fn a_wrong_ca_another_host_or_clear_text_fails_at_start_naming_redis() {
    let ca = TestCa::new("IP:127.0.0.1,DNS:localhost");
    let redis = OwnRedis::start_tls(&ca, &["--save", ""]);
    let stranger = TestCa::new("IP:127.0.0.1");
    let elsewhere = TestCa::new("DNS:redis.internal.example");
    let other_host = OwnRedis::start_tls(&elsewhere, &["--save", ""]);
    let db = Arc::new(TestDb::new().await);
    let plain = redis.url().replacen("rediss://", "redis://", 1);
    let cases = [
        (
            "an unrelated CA",
            redis.url(),
            Some(stranger.file("ca.crt")),
        ),
        (
            "a certificate for another host",
            other_host.url(),
            Some(elsewhere.file("ca.crt")),
        ),
        ("the system's roots", redis.url(), None),
        ("clear text to the TLS port", plain, None),
    ];
    for (what, url, ca_file) in cases {
        let mut overrides = vec![("redis_url", url.as_str()), ("startup_timeout", "1")];
        if let Some(file) = &ca_file {
            overrides.push(("redis_ca_file", file));
        }
        let clock = Arc::new(tessera::clock::SystemClock);
        let error = match try_spawn_on(db.clone(), &overrides, clock).await {
            Ok(_) => panic!("{what}: tessera started"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("Redis"), "{what}: {error}");
        eprintln!("{what}: {error}");
    }
}

#[test]
fn a_ca_file_needs_rediss_and_exists_and_insecure_tls_is_refused() {
    let ca = TestCa::new("IP:127.0.0.1");
    for (url, file, expected) in [
        (
            "redis://127.0.0.1:6379",
            ca.file("ca.crt"),
            "rediss:// URLs only",
        ),
        (
            "rediss://127.0.0.1:6379",
            "/nonexistent/ca.pem".to_owned(),
            "cannot be read",
        ),
        (
            "rediss://127.0.0.1:6379",
            ca.file("server.csr"),
            "no PEM certificate",
        ),
        (
            "rediss://127.0.0.1:6379/#insecure",
            ca.file("ca.crt"),
            "#insecure",
        ),
    ] {
        let pairs = [
            ("issuer", "http://127.0.0.1:8080"),
            ("database_url", "postgres://postgres@127.0.0.1:5432/test"),
            ("redis_url", url),
            ("redis_ca_file", file.as_str()),
            ("kek", &crate::helpers::test_kek()),
        ];
        let error = match tessera::config::Settings::from_pairs(pairs) {
            Ok(_) => panic!("{url} with {file} was accepted"),
            Err(e) => format!("{e}"),
        };
        assert!(error.contains(expected), "{url}, {file}: {error}");
    }
}

//! Issue 17 (item 2, the PostgreSQL half): `sslmode` and `sslrootcert` in `DATABASE_URL`
//! over rustls, against a TLS-only PostgreSQL of the test's own (`pg_hba.conf` rejects
//! clear text) with a throw-away CA. A wrong CA, a certificate for another host under
//! `verify-full`, or clear text fail at start naming PostgreSQL.

use std::sync::Arc;

use reqwest::StatusCode;

use crate::helpers::{spawn_on, test_kek, try_spawn_on, OwnPostgres, TestCa, TestDb};

#[tokio::test]
async fn each_sslmode_means_what_it_means_in_libpq() {
    // the certificate names 127.0.0.1 only: "localhost" is another host to verify-full
    let ca = TestCa::new("IP:127.0.0.1");
    let pg = OwnPostgres::start_tls(&ca);
    let stranger = TestCa::new("IP:127.0.0.1");
    let root = ca.file("ca.crt");
    let db = Arc::new(TestDb::new().await);

    let verified = pg.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    );
    let app = spawn_on(db.clone(), &[("database_url", &verified)]).await;
    let tokens = app.new_user_tokens("pgtls@example.com").await;
    let refreshed = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    assert!(pg.tls_connections() > 0, "no TLS connection at the server");

    let works = [
        (
            "verify-ca ignores the host name",
            pg.url(
                "localhost",
                &format!("sslmode=verify-ca&sslrootcert={root}"),
            ),
        ),
        (
            "require encrypts without verifying",
            pg.url("127.0.0.1", "sslmode=require"),
        ),
        (
            "prefer (the default) takes TLS when offered",
            pg.url("127.0.0.1", ""),
        ),
    ];
    for (what, url) in works {
        let clock = Arc::new(tessera::clock::SystemClock);
        let started = try_spawn_on(db.clone(), &[("database_url", &url)], clock).await;
        assert!(
            started.is_ok(),
            "{what}: {}",
            started.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }

    let fails = [
        (
            "verify-full to a name the certificate lacks",
            pg.url(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={root}"),
            ),
        ),
        (
            "an unrelated CA",
            pg.url(
                "127.0.0.1",
                &format!(
                    "sslmode=verify-full&sslrootcert={}",
                    stranger.file("ca.crt")
                ),
            ),
        ),
        (
            "the system's roots for a private CA",
            pg.url("127.0.0.1", "sslmode=verify-full&sslrootcert=system"),
        ),
        ("clear text", pg.url("127.0.0.1", "sslmode=disable")),
    ];
    for (what, url) in fails {
        let clock = Arc::new(tessera::clock::SystemClock);
        let overrides = [("database_url", url.as_str()), ("startup_timeout", "1")];
        let error = match try_spawn_on(db.clone(), &overrides, clock).await {
            Ok(_) => panic!("{what}: tessera started"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("PostgreSQL"), "{what}: {error}");
        eprintln!("{what}: {error}");
    }
}

#[test]
fn an_unknown_sslmode_or_an_unreadable_root_is_a_configuration_error() {
    for (query, expected) in [
        ("sslmode=verify-everything", "not one of"),
        ("sslmode=allow", "not supported"),
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/root.pem",
            "cannot be read",
        ),
        // libpq's rule: a verifying mode names the CA it verifies against
        ("sslmode=verify-ca", "need sslrootcert"),
        ("sslmode=verify-full", "need sslrootcert"),
        // the system's roots only with the host name checked
        (
            "sslmode=verify-ca&sslrootcert=system",
            "use sslmode=verify-full",
        ),
    ] {
        let url = format!("postgres://postgres@127.0.0.1:5432/test?{query}");
        let pairs = [
            ("issuer", "http://127.0.0.1:8080"),
            ("database_url", url.as_str()),
            ("redis_url", "redis://127.0.0.1:6379"),
            ("kek", &test_kek()),
        ];
        let error = match tessera::config::Settings::from_pairs(pairs) {
            Ok(_) => panic!("{query} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(expected), "{query}: {error}");
        assert!(
            !error.contains("127.0.0.1:5432"),
            "the URL is not echoed: {error}"
        );
    }
}

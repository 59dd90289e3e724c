//! Issue 6, book § Layout: schemathesis (an independent, property-based API fuzzer from PyPI)
//! against the served OpenAPI document, for every public endpoint: no response may be a
//! server error and every documented response must match its schema. Any finding fails
//! the suite (and so CI).

use std::time::Instant;

use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{
    backends, spawn_backend, spawn_with, Backend, TestApp, ADMIN_TOKEN, STRONG_PASSWORD,
};

/// Runs schemathesis against the app's public listener; returns (success, output).
async fn schemathesis(app: &TestApp, extra: &[&str]) -> (bool, String) {
    schemathesis_at(&app.url("/openapi.json"), extra).await
}

/// Runs schemathesis against the document at `schema` (with the suite's hooks: the
/// `application/x-ndjson` serializer); returns (success, output).
async fn schemathesis_at(schema: &str, extra: &[&str]) -> (bool, String) {
    let work = std::env::temp_dir().join(format!("tessera-fuzz-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&work).unwrap();
    // through the interpreter the test set-up installed it for, whatever PATH holds
    let mut args = vec![
        "-m",
        "schemathesis.cli",
        "run",
        schema,
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance",
        "--max-examples",
        "60",
        "--workers",
        "2",
        "--generation-database",
        "none",
        "--exclude-path-regex",
        "^/(admin|metrics)",
        "--request-timeout",
        "10",
    ];
    args.extend_from_slice(extra);
    let out = tokio::process::Command::new("python3")
        .args(&args)
        .current_dir(&work)
        .env("NO_COLOR", "1")
        .env(
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop"),
        )
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .output()
        .await;
    let _ = std::fs::remove_dir_all(&work);
    let out = out.unwrap_or_else(|e| {
        panic!("schemathesis is not installed ({e}): bash scripts/test installs tests/interop/requirements.txt")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The "N generated" count of schemathesis' summary.
fn generated(output: &str) -> u64 {
    output
        .lines()
        .find_map(|l| l.trim().split_once(" generated,")?.0.parse().ok())
        .unwrap_or(0)
}

#[apply(backends)]
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation_on_public_endpoints(
    backend: Backend,
) {
    // the fuzzer sends thousands of requests from one address: limits would answer most
    // of them with 429 and hide the endpoints; hashing is cheap so the pool keeps up
    let app = spawn_backend(
        backend,
        &[
            ("rate_limit_login_ip", "0"),
            ("lockout_account_ceiling", "0"),
            ("rate_limit_register_ip", "0"),
            ("rate_limit_client_auth_failures", "0"),
            ("lockout_threshold", "0"),
            ("argon2_memory_kib", "64"),
            ("argon2_iterations", "1"),
            ("hash_queue", "1000"),
            ("http_workers", "2"),
            ("cors_origins", "http://127.0.0.1:8080"),
        ],
    )
    .await;
    let started = Instant::now();
    let (ok, output) = schemathesis(&app, &["--header", "Origin:http://127.0.0.1:8080"]).await;
    assert!(ok, "schemathesis found problems:\n{output}");
    assert!(
        generated(&output) >= 500,
        "schemathesis ran too little:\n{output}"
    );

    // the bearer endpoints, with a real user's token
    app.user("fuzz@example.com").await;
    let grant: Value = app
        .password_grant("fuzz@example.com", STRONG_PASSWORD, "openid email profile")
        .await
        .json()
        .await
        .unwrap();
    let bearer = format!(
        "Authorization:Bearer {}",
        grant["access_token"].as_str().unwrap()
    );
    let (ok, output) = schemathesis(
        &app,
        &[
            "--header",
            &bearer,
            "--include-path-regex",
            "^/(api/v1/me|oauth2/userinfo)",
        ],
    )
    .await;
    assert!(
        ok,
        "schemathesis found problems with a bearer token:\n{output}"
    );
    eprintln!(
        "schemathesis runs took {:?}; last summary: {} cases",
        started.elapsed(),
        generated(&output)
    );
}

/// The admin listener's document too: every operation gets generated bodies (the user
/// import's JSON lines through the suite's `application/x-ndjson` serializer), with and
/// without the admin token, and none answers a server error or off its schema.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation_on_admin_endpoints() {
    let app = spawn_with(&[
        ("argon2_memory_kib", "64"),
        ("argon2_iterations", "1"),
        ("hash_queue", "1000"),
    ])
    .await;
    let schema = format!("{}/openapi.json", app.admin);
    let bearer = format!("Authorization:Bearer {ADMIN_TOKEN}");
    let (ok, output) = schemathesis_at(
        &schema,
        &["--header", &bearer, "--exclude-path-regex", "^/metrics$"],
    )
    .await;
    assert!(
        ok,
        "schemathesis found problems on the admin listener:\n{output}"
    );
    assert!(
        !output.contains("Serialization not possible")
            && !output.contains("not supported")
            && !output.contains("Unsupported"),
        "an operation could not be generated:\n{output}"
    );
    assert!(
        generated(&output) >= 200,
        "schemathesis ran too little:\n{output}"
    );
    eprintln!("admin: {} cases", generated(&output));
}

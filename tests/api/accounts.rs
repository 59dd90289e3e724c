//! book § Endpoints, book § Configuration, book § Command line: registration, the password policy, imports with bcrypt and old argon2
//! hashes upgraded at login, and the CLI for clients and users.

use std::sync::Arc;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{
    backends, cli_env, run_cli, spawn_backend, spawn_on, Backend, Fetch, TestDb, STRONG_PASSWORD,
};

#[apply(backends)]
#[tokio::test]
async fn without_verification_registration_answers_201_and_a_duplicate_409(backend: Backend) {
    let app = spawn_backend(backend, &[("email_verification", "off")]).await;
    let created = app.register("  Erin@Example.COM ", STRONG_PASSWORD).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["email"], "erin@example.com");
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());

    let duplicate = app
        .register("erin@example.com", "another-Strong-passphrase-77")
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert_eq!(
        duplicate.json::<Value>().await.unwrap()["error"],
        "email_taken"
    );

    let hash = app
        .stored_user("erin@example.com")
        .await
        .unwrap()
        .password_hash;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[apply(backends)]
#[tokio::test]
async fn weak_or_invalid_registrations_name_each_failed_rule_and_store_nothing(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let weak = app.register("frank@example.com", "password1234").await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let body: Value = weak.json().await.unwrap();
    let messages: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("too easy to guess")),
        "{body}"
    );

    let short_and_personal = app.register("frank@example.com", "frank!").await;
    let body: Value = short_and_personal.json().await.unwrap();
    let text = body["fields"].to_string();
    assert!(
        text.contains("at least 12 bytes") && text.contains("before the @"),
        "{body}"
    );

    let bad_email = app.register("frank-at-example", STRONG_PASSWORD).await;
    let body: Value = bad_email.json().await.unwrap();
    assert_eq!(body["fields"][0]["field"], "email", "{body}");

    let unknown_field = app.http.post(app.url("/api/v1/accounts")).json(&serde_json::json!({"email": "f@example.com", "password": STRONG_PASSWORD, "admin": true})).fetch().await;
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown_field.json::<Value>().await.unwrap()["fields"][0]["field"],
        "admin"
    );

    let users = app.db.count_rows("users").await;
    assert_eq!(users, 0);
}

fn cli(db: &TestDb, args: &[&str]) -> std::process::Output {
    let env = cli_env(db);
    run_cli(args, &env)
}

#[apply(backends)]
#[tokio::test]
async fn a_bcrypt_imported_user_logs_in_and_is_upgraded_to_argon2id_and_bad_lines_are_reported(
    backend: Backend,
) {
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[]).await;
    let bcrypt_hash = bcrypt::hash("legacy-Express-password-9", 4).unwrap();
    let old_argon = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = argon2::Params::new(8192, 1, 1, None).unwrap();
        let argon2 =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        argon2
            .hash_password(
                b"older-Argon-password-31",
                &SaltString::generate(&mut rand::rngs::OsRng),
            )
            .unwrap()
            .to_string()
    };
    let file = std::env::temp_dir().join(format!("import-{}.jsonl", uuid::Uuid::new_v4().simple()));
    let lines = [
        serde_json::json!({"email": "legacy@example.com", "password_hash": bcrypt_hash, "name": "Legacy"}).to_string(),
        "{not json".to_owned(),
        serde_json::json!({"email": "older@example.com", "password_hash": old_argon, "email_verified": true}).to_string(),
        serde_json::json!({"email": "plain@example.com", "password_hash": "hunter2"}).to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();

    let out = cli(&db, &["users", "import", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert!(!out.status.success(), "bad lines make the exit non-zero");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["imported"], 2);
    let failed: Vec<i64> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(failed, vec![2, 4]);

    for (email, password) in [
        ("legacy@example.com", "legacy-Express-password-9"),
        ("older@example.com", "older-Argon-password-31"),
    ] {
        let login = app.password_grant(email, password, "openid").await;
        assert_eq!(login.status(), StatusCode::OK, "{email}");
        let hash = app.stored_user(email).await.unwrap().password_hash;
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{email} upgraded: {hash}"
        );
        let again = app.password_grant(email, password, "openid").await;
        assert_eq!(
            again.status(),
            StatusCode::OK,
            "{email} logs in with the upgraded hash"
        );
    }
}

#[apply(backends)]
#[tokio::test]
async fn cli_clients_create_prints_the_secret_once_and_it_authenticates(backend: Backend) {
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[]).await;
    let out = cli(
        &db,
        &[
            "clients",
            "create",
            "--name",
            "billing",
            "--grant",
            "client_credentials",
            "--audience",
            "https://billing.example.com",
            "--scope",
            "billing.read",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    assert_eq!(client["public"], false);
    assert!(secret.len() >= 43);

    let stored = app.stored_client(id).await.unwrap().secret_sha256.unwrap();
    assert_eq!(stored.len(), 32, "only the SHA-256 is stored");
    assert!(!String::from_utf8_lossy(&stored).contains(secret));

    let token = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await;
    assert_eq!(token.status(), StatusCode::OK);

    let public = cli(
        &db,
        &[
            "clients",
            "create",
            "--name",
            "mobile",
            "--grant",
            "refresh_token",
            "--public",
        ],
    );
    let public: Value = serde_json::from_slice(&public.stdout).unwrap();
    assert!(public.get("client_secret").is_none());

    let refused = cli(
        &db,
        &[
            "clients",
            "create",
            "--name",
            "bad",
            "--grant",
            "client_credentials",
            "--public",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr)
        .contains("public client cannot use client_credentials"));
}

#[apply(backends)]
#[tokio::test]
async fn cli_users_create_reads_the_password_from_stdin_and_applies_the_policy(backend: Backend) {
    use std::io::Write;
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on(db.clone(), &[]).await;
    let run = |password: &'static str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.args([
            "users",
            "create",
            "--email",
            "gina@example.com",
            "--password-stdin",
        ])
        .env_clear();
        for (k, v) in cli_env(&db) {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = run("gina1234\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 bytes"));
    let ok = run("correct-Horse-battery-staple-42\n");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        app.password_grant("gina@example.com", STRONG_PASSWORD, "openid")
            .await
            .status(),
        StatusCode::OK
    );
}

#[apply(backends)]
#[tokio::test]
async fn control_characters_in_names_are_refused_with_400_not_stored_or_500(backend: Backend) {
    // found by the schemathesis run: PostgreSQL cannot store NUL, which surfaced as a 503
    let app = crate::helpers::spawn_backend(backend, &[]).await;
    for name in ["Ada\u{0}Lovelace", "tab\tname", "bell\u{7}"] {
        let response = app
            .http
            .post(app.url("/api/v1/accounts"))
            .json(&serde_json::json!({"email": "nul@example.com", "password": STRONG_PASSWORD, "name": name}))
            .fetch().await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["fields"][0]["field"], "name", "{body}");
        let (status, _) = app
            .admin_json(
                reqwest::Method::POST,
                "/admin/users",
                Some(serde_json::json!({"email": "nul2@example.com", "password": STRONG_PASSWORD, "name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "admin: {name:?}");
        let (status, _) = app
            .admin_json(
                reqwest::Method::POST,
                "/admin/clients",
                Some(serde_json::json!({"name": name, "grant_types": ["client_credentials"]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "client: {name:?}");
    }
    let line = serde_json::json!({"email": "imp@example.com", "password_hash": "$2b$04$abcdefghijklmnopqrstuu5Jq6cR0xjHqUq0h3e5mQzWJ8Yf0G7xK", "name": "a\u{0}b"});
    let report: serde_json::Value = app
        .admin_call(reqwest::Method::POST, "/admin/users/import")
        .body(line.to_string())
        .fetch_json()
        .await;
    assert_eq!(report["imported"], 0);
    assert_eq!(report["errors"][0]["line"], 1);
}

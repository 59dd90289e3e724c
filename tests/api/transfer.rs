//! book § Run the service: `tessera export` / `tessera import` move a store between the embedded mode
//! and Postgres + Redis, both ways, logging nobody out and un-revoking nothing, passkeys
//! included; an import that cannot be complete writes nothing.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use tessera::clock::FixedClock;

use crate::helpers::passkey::SoftAuthenticator;
use crate::helpers::{
    cli_env, try_spawn_on, Backend, Fetch, TestApp, TestDb, ADMIN_TOKEN, STRONG_PASSWORD,
};

/// Runs `tessera <args>` against `db` with `stdin`; returns (exit ok, stdout, stderr).
pub(crate) fn cli(
    db: &TestDb,
    args: &[&str],
    stdin: &[u8],
    kek: Option<&str>,
) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in cli_env(db) {
        cmd.env(k, v);
    }
    if let Some(kek) = kek {
        cmd.env("TESSERA_KEK", kek);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a store holds that an import must carry over, on a running app.
struct Before {
    refresh: String,
    revoked_access: String,
    cut_off_access: String,
    live_access: String,
    client: (String, Option<String>),
    resource: (String, Option<String>),
    kids: Vec<String>,
    audit_events: i64,
    /// Holds Ana's passkey.
    authenticator: SoftAuthenticator,
}

/// Fills `app`: users (one with TOTP), sessions, a revoked token, a cut-off, a client.
async fn fill(app: &TestApp, clock: &FixedClock) -> Before {
    let tokens = app.new_user_tokens("ana@example.com").await;
    let revoked = app.login("ana@example.com", "openid").await;
    let revoked_access = revoked["access_token"].as_str().unwrap().to_owned();
    let resource = app.resource_server().await;
    let answer = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", revoked_access.as_str()), ("client_id", "spa")])
        .fetch()
        .await;
    assert_eq!(answer.status(), StatusCode::OK);

    let cut = app.new_user_tokens("ben@example.com").await;
    app.revoke_user_sessions(&app.user_id("ben@example.com").await)
        .await;
    // an upstream provider, its client secret sealed
    app.corp_provider().await;

    let revoked = app.introspect_as(&resource, &revoked_access).await;
    assert_eq!(revoked["active"], false);
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let access = tokens["access_token"].as_str().unwrap();
    let options: Value = app
        .http
        .post(app.url("/api/v1/me/passkeys/options"))
        .bearer_auth(access)
        .fetch()
        .await
        .json()
        .await
        .unwrap();
    let credential = authenticator.create(&options["publicKey"]);
    let body = serde_json::json!({ "ceremony": options["ceremony"], "credential": credential });
    let added = app
        .http
        .post(app.url("/api/v1/me/passkeys"))
        .bearer_auth(access)
        .json(&body)
        .fetch()
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    app.user("cleo@example.com").await;
    app.enrol_totp("cleo@example.com", clock).await;

    // the live access token comes last: the one issued before the refresh would be older
    let refreshed: Value = app
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    Before {
        refresh: refreshed["refresh_token"].as_str().unwrap().to_owned(),
        live_access: refreshed["access_token"].as_str().unwrap().to_owned(),
        revoked_access,
        cut_off_access: cut["access_token"].as_str().unwrap().to_owned(),
        client: app.client(&["client_credentials"], false, false).await,
        resource,
        kids: app.jwks_kids().await,
        audit_events: app.db.count_rows("audit_events").await,
        authenticator,
    }
}

/// Everything `before` recorded holds on `app`, which runs on the imported store.
async fn check(app: &TestApp, before: &mut Before) {
    let mut kids = app.jwks_kids().await;
    let mut expected = before.kids.clone();
    kids.sort();
    expected.sort();
    assert_eq!(kids, expected, "the same keys are published");
    assert_eq!(
        app.db.count_rows("audit_events").await,
        before.audit_events,
        "the audit trail came along"
    );
    let (provider, secret) = app.corp_as_stored().await;
    assert_eq!(
        provider.settings.issuer.as_deref(),
        Some("https://idp.example.com")
    );
    assert_eq!(
        secret, b"corp-secret",
        "the provider came along, its secret still opens"
    );
    let resource = &before.resource;
    let live = app.introspect_as(resource, &before.live_access).await;
    assert_eq!(
        live["active"], true,
        "a token issued before the move verifies"
    );
    let revoked = app.introspect_as(resource, &before.revoked_access).await;
    assert_eq!(revoked["active"], false, "a revoked token stays revoked");
    let cut = app.introspect_as(resource, &before.cut_off_access).await;
    assert_eq!(cut["active"], false, "a cut-off still applies");

    let rotated = app.refresh(&before.refresh).await;
    assert_eq!(rotated.status(), StatusCode::OK, "the session goes on");

    let login = app
        .password_grant("ana@example.com", STRONG_PASSWORD, "openid")
        .await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "the password hash came along"
    );
    let mfa: Value = app
        .password_grant("cleo@example.com", STRONG_PASSWORD, "openid")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        mfa["error"], "mfa_required",
        "the TOTP enrolment came along"
    );

    let options: Value = app
        .http
        .post(app.url("/api/v1/session/passkey/options"))
        .header("origin", ORIGIN)
        .json(&serde_json::json!({}))
        .fetch()
        .await
        .json()
        .await
        .unwrap();
    let assertion = before.authenticator.get(&options["publicKey"]);
    let body = serde_json::json!({ "ceremony": options["ceremony"], "credential": assertion });
    let signed_in = app
        .http
        .post(app.url("/api/v1/session/passkey"))
        .header("origin", ORIGIN)
        .json(&body)
        .fetch()
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK, "the passkey came along");

    let (id, secret) = &before.client;
    let cc = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret.as_deref().unwrap()),
        ])
        .await;
    assert_eq!(
        cc.status(),
        StatusCode::OK,
        "the client secret hash came along"
    );
}

/// On `localhost`, where WebAuthn runs (its passkeys move too).
const ORIGIN: &str = "http://localhost:8080";

async fn spawn(db: Arc<TestDb>, clock: Arc<FixedClock>) -> TestApp {
    try_spawn_on(
        db,
        &[("keyring_poll_interval", "1"), ("issuer", ORIGIN)],
        clock,
    )
    .await
    .unwrap_or_else(|e| panic!("app failed to start: {e}"))
}

/// Exports `from` (while its app runs) and imports into a fresh store of `to`.
async fn move_store(from: &TestDb, to: Backend) -> (Arc<TestDb>, String) {
    let (ok, export, stderr) = cli(from, &["export"], b"", None);
    assert!(ok, "export failed: {stderr}");
    assert!(!export.contains(STRONG_PASSWORD) && !export.contains(ADMIN_TOKEN));
    let target = Arc::new(TestDb::on(to).await);
    let (ok, report, stderr) = cli(&target, &["import"], export.as_bytes(), None);
    assert!(ok, "import failed: {stderr}");
    let report: Value = serde_json::from_str(&report).unwrap();
    let imported = &report["imported"];
    assert_eq!(imported["users"], 3, "{report}");
    assert_eq!(imported["user_totp"], 1, "{report}");
    assert_eq!(imported["passkeys"], 1, "{report}");
    assert_eq!(imported["jti_blocklist"], 1, "{report}");
    assert_eq!(imported["user_cutoffs"], 1, "{report}");
    assert!(imported["refresh_families"].as_u64() >= Some(1), "{report}");
    (target, export)
}

#[tokio::test]
async fn embedded_to_postgres_and_back_keeps_every_session_key_user_and_revocation() {
    let clock = Arc::new(FixedClock::starting_now());
    let embedded = Arc::new(TestDb::on(Backend::Embedded).await);
    let source = spawn(embedded.clone(), clock.clone()).await;
    let mut before = fill(&source, &clock).await;

    let (pg, _) = move_store(&embedded, Backend::Postgres).await;
    let up = spawn(pg.clone(), clock.clone()).await;
    check(&up, &mut before).await;

    // and back down, from the Postgres + Redis store the first move filled
    let mut before = fill_more(&up, before).await;
    let (down_db, _) = move_store(&pg, Backend::Embedded).await;
    if let TestDb::Embedded(dir) = down_db.as_ref() {
        let kept = std::fs::read_to_string(dir.0.join("kek")).unwrap();
        assert_eq!(
            kept.trim(),
            crate::helpers::test_kek(),
            "the data directory keeps its KEK"
        );
    }
    drop(source);
    let down = spawn(down_db, clock).await;
    check(&down, &mut before).await;
}

/// After `check` rotated `before.refresh`, the current token of that session.
async fn fill_more(app: &TestApp, mut before: Before) -> Before {
    let session = app.login("ana@example.com", "openid").await;
    before.refresh = session["refresh_token"].as_str().unwrap().to_owned();
    before.live_access = session["access_token"].as_str().unwrap().to_owned();
    before.audit_events = app.db.count_rows("audit_events").await;
    before
}

#[tokio::test]
async fn an_import_that_cannot_be_complete_writes_nothing_and_says_why() {
    let clock = Arc::new(FixedClock::starting_now());
    let embedded = Arc::new(TestDb::on(Backend::Embedded).await);
    let source = spawn(embedded.clone(), clock.clone()).await;
    source.new_user_tokens("dan@example.com").await;
    let (ok, export, _) = cli(&embedded, &["export"], b"", None);
    assert!(ok);
    let target = TestDb::on(Backend::Postgres).await;

    let other_kek = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b"another kek"))
    };
    let (ok, _, stderr) = cli(&target, &["import"], export.as_bytes(), Some(&other_kek));
    assert!(!ok);
    assert!(stderr.contains("does not open with this KEK"), "{stderr}");

    let truncated: String = export.lines().take(4).collect::<Vec<_>>().join("\n");
    let (ok, _, stderr) = cli(&target, &["import"], truncated.as_bytes(), None);
    assert!(!ok);
    assert!(stderr.contains("truncated"), "{stderr}");

    let mut bad: Vec<String> = export.lines().map(str::to_owned).collect();
    bad[1] = bad[1].replacen("\"email\":", "\"e-mail\":", 1);
    let (ok, _, stderr) = cli(&target, &["import"], bad.join("\n").as_bytes(), None);
    assert!(!ok);
    assert!(stderr.contains("line 2:"), "{stderr}");

    assert_eq!(target.count_rows("users").await, 0, "nothing was written");
    assert_eq!(
        target.count_rows("clients").await,
        1,
        "the bootstrap client only"
    );

    let (ok, _, stderr) = cli(&target, &["import"], export.as_bytes(), None);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = cli(&target, &["import"], export.as_bytes(), None);
    assert!(!ok, "a second import into the now filled store is refused");
    assert!(stderr.contains("not empty (users: 1 rows"), "{stderr}");
    assert_eq!(target.count_rows("users").await, 1);
}

/// Import holds a batch of rows at a time, so the stream is read twice: once to check it
/// whole, once to write it. Rows that turn out wrong on the second reading (the input
/// changed in between) undo everything already written, on both backends, Redis's session
/// keys included; and `tessera import FILE` reads a file the same way as standard input.
#[tokio::test]
async fn rows_that_fail_while_they_are_written_leave_nothing_behind_on_either_backend() {
    use tessera::store::transfer::TransferError;
    let clock = Arc::new(FixedClock::starting_now());
    let embedded = Arc::new(TestDb::on(Backend::Embedded).await);
    let source = spawn(embedded.clone(), clock.clone()).await;
    source.new_user_tokens("eve@example.com").await;
    source.new_user_tokens("fay@example.com").await;
    let (ok, export, stderr) = cli(&embedded, &["export"], b"", None);
    assert!(ok, "{stderr}");
    let kek = tessera::crypto::Kek::from_base64(&crate::helpers::test_kek()).unwrap();
    let stream = tessera::service::transfer::read(export.as_bytes(), &kek).unwrap();
    assert!(stream.authentic.is_ok());
    let families = stream
        .rows
        .iter()
        .filter(|r| r.table.name == "refresh_families")
        .count();
    assert!(families >= 2, "the stream has sessions for Redis to take");

    for backend in [Backend::Postgres, Backend::Embedded] {
        let target = TestDb::on(backend).await;
        let settings = crate::helpers::test_settings(&target, &[]);
        let store = tessera::store::connect((&settings).into()).await.unwrap();
        store.migrator.migrate().await.unwrap();
        let failing = stream
            .rows
            .clone()
            .into_iter()
            .map(Ok)
            .chain(std::iter::once(Err(TransferError::Refused(
                "the input changed while it was imported".into(),
            ))));
        let refused = store
            .transfer
            .import(
                Box::new(failing),
                tessera::clock::Clock::now(clock.as_ref()),
            )
            .await;
        assert!(
            matches!(&refused, Err(TransferError::Refused(why)) if why.contains("changed")),
            "{backend:?}: {refused:?}"
        );
        assert_eq!(
            store.transfer.holdings().await.unwrap(),
            Vec::<String>::new(),
            "{backend:?}: nothing written, no session key left in Redis"
        );

        let dir = crate::helpers::TempDir::new();
        let file = dir.0.join("export.jsonl");
        std::fs::write(&file, &export).unwrap();
        let (ok, report, stderr) = cli(&target, &["import", file.to_str().unwrap()], b"", None);
        assert!(ok, "{backend:?}: {stderr}");
        let report: Value = serde_json::from_str(&report).unwrap();
        assert_eq!(report["imported"]["users"], 2, "{report}");
        assert_eq!(
            report["imported"]["refresh_families"], families as u64,
            "{report}"
        );
    }
}

//! book § Verifying tokens in other services: a downstream service built on `tessera-verify`, against a real tessera. It
//! refuses a token within a poll interval of its revocation, keeps verifying through an
//! outage of tessera, picks up a rotated key without a restart; and the `check` example
//! answers one JSON line per token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::{Clock, FixedClock};
use tessera_verify::{Error, Revocation, Verifier};

use crate::helpers::{
    backends, try_spawn_on, Backend, Fetch, Proxy, TestApp, TestDb, STRONG_PASSWORD,
};

const POLL: Duration = Duration::from_millis(300);

/// tessera behind a proxy whose address is the issuer, so a test can cut tessera off.
pub(crate) async fn issuer_behind_proxy(
    backend: Backend,
    clock: Arc<dyn Clock>,
) -> (TestApp, Proxy, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let db = Arc::new(TestDb::on(backend).await);
    let app = try_spawn_on(db, &[("issuer", &issuer)], clock)
        .await
        .unwrap();
    let upstream = app.public.trim_start_matches("http://").parse().unwrap();
    (app, Proxy::on(listener, upstream), issuer)
}

async fn verifier(app: &TestApp, issuer: &str) -> Verifier {
    let (id, secret) = app.resource_server().await;
    Verifier::builder(issuer)
        .audience(app.state.settings.default_audience.clone())
        .client_credentials(id, secret.unwrap())
        .poll_interval(POLL)
        .build()
        .await
        .unwrap()
}

fn access(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// Waits until the verifier refuses `token`; how long that took.
async fn until_refused(v: &Verifier, token: &str, limit: Duration) -> (Duration, Error) {
    let started = Instant::now();
    loop {
        if let Err(e) = v.verify_cached(token) {
            return (started.elapsed(), e);
        }
        assert!(started.elapsed() < limit, "still accepted after {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[apply(backends)]
#[tokio::test]
async fn the_crate_refuses_revoked_tokens_within_a_poll_interval_and_verifies_through_an_outage(
    backend: Backend,
) {
    let (app, proxy, issuer) =
        issuer_behind_proxy(backend, Arc::new(tessera::clock::SystemClock)).await;
    let ann = app.new_user_tokens("ann@example.com").await;
    let kept = access(&app.login("ann@example.com", "openid").await);
    let bob = access(&app.new_user_tokens("bob@example.com").await);
    let bob_elsewhere = access(&app.login("bob@example.com", "openid").await);
    let v = verifier(&app, &issuer).await;
    for token in [
        access(&ann),
        kept.clone(),
        bob.clone(),
        bob_elsewhere.clone(),
    ] {
        v.verify(&token).await.unwrap();
    }

    // RFC 7009 at tessera: refused within one poll interval (+1 s)
    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", access(&ann).as_str()), ("client_id", "spa")])
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let (took, why) = until_refused(&v, &access(&ann), POLL + Duration::from_secs(1)).await;
    assert_eq!(why, Error::Revoked(Revocation::Token));
    eprintln!("revocation reached the verifier in {took:?} (poll interval {POLL:?})");
    // a password change ends the user's other sessions
    let changed = app
        .http
        .post(app.url("/api/v1/me/password"))
        .bearer_auth(&bob)
        .json(&json!({"current_password": STRONG_PASSWORD, "new_password": "a-New-long-passphrase-88"}))
        .fetch()
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let (_, why) = until_refused(&v, &bob_elsewhere, POLL + Duration::from_secs(1)).await;
    assert!(
        matches!(why, Error::Revoked(Revocation::Session | Revocation::User)),
        "{why:?}"
    );
    v.verify(&kept).await.unwrap();

    // tessera goes away: valid tokens stay valid, revoked ones stay revoked
    proxy.cut();
    tokio::time::sleep(POLL * 3).await;
    assert!(v.feed_staleness().unwrap() >= POLL * 2);
    assert_eq!(v.verify(&kept).await.unwrap().sub, claims_sub(&kept));
    assert!(v.verify(&access(&ann)).await.is_err());
    // and back: the feed catches up
    let _proxy = proxy.restart().await;
    let started = Instant::now();
    while v.feed_staleness().unwrap() > POLL * 2 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the feed did not resume"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn claims_sub(token: &str) -> String {
    crate::helpers::claims(token)["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[apply(backends)]
#[tokio::test]
async fn the_crate_picks_up_a_rotated_key_without_a_restart(backend: Backend) {
    let (app, _proxy, issuer) =
        issuer_behind_proxy(backend, Arc::new(tessera::clock::SystemClock)).await;
    app.user("kim@example.com").await;
    let v = verifier(&app, &issuer).await;
    // the next key is published ahead: two rotations make a key the verifier never saw sign
    for _ in 0..2 {
        let (status, _) = app
            .admin_json(Method::POST, "/admin/keys/rotate", None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let token = access(&app.login("kim@example.com", "openid").await);
    let kid = TestApp::kid_of(&token);
    assert!(!v.kids().contains(&kid), "the verifier already had {kid}");
    assert_eq!(v.verify(&token).await.unwrap().kid, kid);
}

fn check_program() -> std::path::PathBuf {
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap();
    let program = target.join("debug/examples/check");
    assert!(
        program.exists(),
        "{} is missing: `bash scripts/test` builds it (cargo build -p tessera-verify --example check)",
        program.display()
    );
    program
}

/// Runs `check` over `lines`; its exit code and its stdout, a JSON value per line.
async fn check(args: &[&str], lines: &[String]) -> (i32, Vec<Value>) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(check_program())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((lines.join("\n") + "\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let answers = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON on stdout: {l}")))
        .collect();
    (out.status.code().unwrap(), answers)
}

#[apply(backends)]
#[tokio::test]
async fn the_check_program_answers_a_json_line_per_token_and_watch_sees_revocations(
    backend: Backend,
) {
    // the clock starts two hours back, to mint a token that has expired by now
    let clock = Arc::new(FixedClock::new(
        tessera::clock::SystemClock.now() - Duration::from_secs(7200),
    ));
    let (app, _proxy, issuer) = issuer_behind_proxy(backend, clock.clone()).await;
    app.user("cal@example.com").await;
    let expired = access(&app.login("cal@example.com", "openid").await);
    clock.advance(Duration::from_secs(7200));
    let valid = access(&app.login("cal@example.com", "openid").await);
    let (rs, secret) = app.resource_server().await;
    let secret = secret.unwrap();
    let aud = app.state.settings.default_audience.clone();
    let base = ["--issuer", issuer.as_str(), "--audience", aud.as_str()];

    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], parts[1], "A".repeat(parts[2].len()));
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    header["kid"] = json!("no-such-key");
    let unknown = format!(
        "{}.{}.{}",
        b64.encode(header.to_string()),
        parts[1],
        parts[2]
    );
    let lines = [
        valid.clone(),
        "not a token".into(),
        tampered,
        unknown,
        expired,
        String::new(),
    ];
    let (code, answers) = check(&base, &lines).await;
    assert_eq!(code, 1);
    let sub = claims_sub(&valid);
    assert_eq!(
        answers,
        [
            json!({"valid": true, "sub": sub, "jti": crate::helpers::claims(&valid)["jti"], "kid": TestApp::kid_of(&valid)}),
            json!({"valid": false, "error": "malformed"}),
            json!({"valid": false, "error": "bad-signature"}),
            json!({"valid": false, "error": "unknown-kid"}),
            json!({"valid": false, "error": "expired"}),
            json!({"valid": false, "error": "malformed"}),
        ]
    );
    let (code, answers) = check(
        &[
            "--issuer",
            &issuer,
            "--audience",
            "https://elsewhere.example",
        ],
        std::slice::from_ref(&valid),
    )
    .await;
    assert_eq!(
        (code, answers),
        (1, vec![json!({"valid": false, "error": "wrong-audience"})])
    );
    let (code, _) = check(&base, &[valid.clone(), valid.clone()]).await;
    assert_eq!(code, 0, "every token valid");
    let (code, _) = check(&["--issuer", &issuer], &[]).await;
    assert_eq!(code, 2, "no audience");

    // --watch: the same token turns revoked within one poll interval of its revocation
    watch(&app, &base, &rs, &secret, &valid).await;
}

async fn watch(app: &TestApp, base: &[&str], rs: &str, secret: &str, token: &str) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut args = base.to_vec();
    args.extend([
        "--client-id",
        rs,
        "--client-secret",
        secret,
        "--watch",
        "--poll-interval",
        "0.3",
    ]);
    let mut child = tokio::process::Command::new(check_program())
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ask = async |line: &str| -> Value {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        let answer = stdout.next_line().await.unwrap().unwrap();
        serde_json::from_str(&answer).unwrap()
    };
    assert_eq!(ask(token).await["valid"], true);
    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", token), ("client_id", "spa")])
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let started = Instant::now();
    loop {
        let answer = ask(token).await;
        if answer["valid"] == false {
            assert_eq!(answer, json!({"valid": false, "error": "revoked"}));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(1300),
            "not revoked in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "check --watch refused the token {:?} after its revocation",
        started.elapsed()
    );
}

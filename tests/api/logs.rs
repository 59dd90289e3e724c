//! book § Endpoints: passwords, tokens and secrets never reach the logs, at any level we ship.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, cookie_pair, spawn_backend, Backend, Fetch, STRONG_PASSWORD};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[apply(backends)]
#[tokio::test]
async fn no_password_token_or_secret_appears_in_the_logs_of_login_refresh_client_and_admin_flows(
    backend: Backend,
) {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        // the filter the binary builds from TESSERA_LOG, at the most verbose level
        .with_env_filter(tessera::telemetry::filter(
            "trace,tokio_postgres=trace,hyper=debug",
        ))
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .init();
    let origin = "https://app.example.com";
    let app = spawn_backend(backend, &[("cors_origins", origin)]).await;

    app.user("ivy@example.com").await;
    let _ = app
        .password_grant("ivy@example.com", "Wrong-password-but-long-1", "openid")
        .await;
    let grant: Value = app
        .password_grant("ivy@example.com", STRONG_PASSWORD, "openid email")
        .await
        .json()
        .await
        .unwrap();
    let refresh = grant["refresh_token"].as_str().unwrap().to_owned();
    let refreshed: Value = app
        .token_json(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", &refresh),
        ])
        .await;
    let _ = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", &refresh),
        ])
        .await;
    let (id, secret) = app.client(&["client_credentials"], false, false).await;
    let secret = secret.unwrap();
    let cc: Value = app
        .token_json(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .await;
    let _ = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "Wrong-secret-value-123"),
        ])
        .await;
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let info = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(&access)
        .fetch()
        .await;
    assert_eq!(info.status(), StatusCode::OK);
    let spa = app
        .spa_call(reqwest::Method::POST, "/api/v1/session", origin, None)
        .json(&serde_json::json!({"email": "ivy@example.com", "password": STRONG_PASSWORD}))
        .fetch()
        .await;
    let cookie = cookie_pair(&spa);
    let _ = app.spa_refresh(origin, &cookie).await;
    let _ = app.admin_get("/admin/keys").fetch().await;
    // admin flows: secrets shown once to the operator, never to the log
    let created: Value = app
        .admin_call(reqwest::Method::POST, "/admin/clients")
        .json(&serde_json::json!({"name": "svc", "grant_types": ["client_credentials"]}))
        .fetch_json()
        .await;
    let admin_id = created["client_id"].as_str().unwrap().to_owned();
    let rotated: Value = app
        .admin_call(
            reqwest::Method::POST,
            &format!("/admin/clients/{admin_id}/secret"),
        )
        .fetch_json()
        .await;
    let admin_password = "Admin-set-passphrase-for-Zoe-7";
    let _ = app
        .admin_call(reqwest::Method::POST, "/admin/users")
        .json(&serde_json::json!({"email": "zoe@example.com", "password": admin_password}))
        .fetch()
        .await;
    let imported_hash = "$2b$04$abcdefghijklmnopqrstuu5Jq6cR0xjHqUq0h3e5mQzWJ8Yf0G7xK";
    let _ = app
        .admin_call(reqwest::Method::POST, "/admin/users/import")
        .body(format!(
            "{{\"email\":\"imp@example.com\",\"password_hash\":\"{imported_hash}\"}}\n{{\"email\":\"bad\",\"password_hash\":\"{imported_hash}\"}}"
        ))
        .fetch().await;
    // a password reset with the production log sink: the token never reaches the log
    let forgot = app
        .http
        .post(app.url("/api/v1/password/forgot"))
        .json(&serde_json::json!({"email": "ivy@example.com"}))
        .fetch()
        .await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let moving = app
        .http
        .post(app.url("/api/v1/me/email"))
        .bearer_auth(&access)
        .json(&serde_json::json!({"email": "ivy.new@example.com"}))
        .fetch()
        .await;
    assert_eq!(moving.status(), StatusCode::ACCEPTED);
    // MFA: enrolment, a TOTP code, the mfa_token, a recovery code
    let mfa = mfa_flow(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("tokens issued") && logs.contains("request_id"),
        "the capture saw the flows:\n{logs}"
    );
    let cookie_value = cookie.trim_start_matches("tessera_rt=").to_owned();
    let secrets = [
        ("password", STRONG_PASSWORD.to_owned()),
        ("wrong password", "Wrong-password-but-long-1".to_owned()),
        ("refresh token", refresh),
        (
            "rotated refresh token",
            refreshed["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("cookie refresh token", cookie_value),
        ("access token", access),
        ("id token", grant["id_token"].as_str().unwrap().to_owned()),
        (
            "client access token",
            cc["access_token"].as_str().unwrap().to_owned(),
        ),
        ("client secret", secret),
        ("wrong client secret", "Wrong-secret-value-123".to_owned()),
        ("admin token", crate::helpers::ADMIN_TOKEN.to_owned()),
        (
            "admin-created client secret",
            created["client_secret"].as_str().unwrap().to_owned(),
        ),
        (
            "rotated client secret",
            rotated["client_secret"].as_str().unwrap().to_owned(),
        ),
        ("admin-set password", admin_password.to_owned()),
        ("imported hash", imported_hash.to_owned()),
        ("TOTP secret", mfa.secret),
        ("mfa token", mfa.mfa_token),
        ("recovery code", mfa.recovery_code),
        ("MFA access token", mfa.access_token),
    ];
    assert!(
        logs.contains("password reset issued"),
        "the reset went through the log sink"
    );
    assert!(!logs.contains("tsp_"), "a reset token leaked into the logs");
    // registration's verification link and a change of address's link, through the same sink
    assert!(
        logs.matches("email link issued").count() >= 2,
        "the email links went through the log sink"
    );
    assert!(
        !logs.contains("tse_"),
        "an email link's token leaked into the logs"
    );
    assert!(
        !appears_as_number(&logs, &mfa.code),
        "a TOTP code leaked into the logs"
    );
    for (what, value) in secrets {
        // also the signature part alone, in case a token is split when logged
        let fragment = value.rsplit('.').next().unwrap_or(&value).to_owned();
        assert!(
            !logs.contains(&value) && !logs.contains(&fragment),
            "{what} leaked into the logs: {}",
            logs.lines()
                .find(|l| l.contains(&fragment))
                .unwrap_or_default()
        );
    }
}

struct MfaSecrets {
    secret: String,
    code: String,
    mfa_token: String,
    recovery_code: String,
    access_token: String,
}

/// Enrols ivy in TOTP (a code from pyotp confirms it), then logs in with the password and a
/// recovery code; returns every secret the flow handled.
async fn mfa_flow(app: &crate::helpers::TestApp) -> MfaSecrets {
    let login = app
        .password_grant("ivy@example.com", STRONG_PASSWORD, "openid")
        .await;
    let access: Value = login.json().await.unwrap();
    let access = access["access_token"].as_str().unwrap().to_owned();
    let setup: Value = app
        .http
        .post(app.url("/api/v1/me/mfa/totp"))
        .bearer_auth(&access)
        .fetch_json()
        .await;
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/totp_code.py");
    let now = tessera::clock::Clock::now(&tessera::clock::SystemClock).unix_timestamp();
    let out = std::process::Command::new("python3")
        .args([script, &secret, &now.to_string()])
        .output()
        .expect("python3 is needed for interop tests");
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let confirmed: Value = app
        .http
        .post(app.url("/api/v1/me/mfa/totp/confirm"))
        .bearer_auth(&access)
        .json(&serde_json::json!({ "code": code }))
        .fetch_json()
        .await;
    let recovery_code = confirmed["recovery_codes"][0].as_str().unwrap().to_owned();
    let challenge: Value = app
        .password_grant("ivy@example.com", STRONG_PASSWORD, "openid")
        .await
        .json()
        .await
        .unwrap();
    let mfa_token = challenge["mfa_token"].as_str().unwrap().to_owned();
    let tokens: Value = app
        .token_json(&[
            ("grant_type", "urn:tessera:grant-type:mfa-otp"),
            ("client_id", "spa"),
            ("mfa_token", &mfa_token),
            ("recovery_code", &recovery_code),
        ])
        .await;
    MfaSecrets {
        secret,
        code,
        mfa_token,
        recovery_code,
        access_token: tokens["access_token"].as_str().unwrap().to_owned(),
    }
}

/// Whether `code` (6 digits) stands in `text` as a number of its own: not inside a longer
/// run of digits or a decimal (timestamps and latencies are full of six-digit runs).
fn appears_as_number(text: &str, code: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(code).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + code.len()).copied();
        let joined = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit() || b == b'.');
        !joined(before) && !joined(after)
    })
}

/// The published documents get no span per request (issue 17, JWKS throughput), but a
/// refused one is still logged with its request id, at the level the binary ships with.
#[tokio::test]
async fn a_refused_jwks_request_is_logged_with_its_request_id_and_a_served_one_is_not() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tessera::telemetry::filter("info"))
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .init();
    let app = crate::helpers::spawn_app().await;
    let served = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .fetch()
        .await;
    assert_eq!(served.status(), StatusCode::OK);
    // the route matches; the envelope refuses the headers (over 16 KiB)
    let refused = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("x-padding", "a".repeat(17 * 1024))
        .fetch()
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| l["fields"]["path"] == "/.well-known/jwks.json")
        .collect();
    assert_eq!(lines.len(), 1, "one line, for the refused request:\n{logs}");
    assert_eq!(lines[0]["fields"]["status"], 431, "{logs}");
    assert_eq!(lines[0]["span"]["request_id"], id.as_str(), "{logs}");
}

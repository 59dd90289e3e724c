//! RFC 6749, book § Endpoints, RFC 6238, issue 7: TOTP enrolment checked against an independent implementation
//! (pyotp, as authenticator apps compute codes), one use per time step, the mfa_required
//! step-up on both login paths with amr ["pwd","otp"], recovery codes, and disabling.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::FixedClock;

use crate::helpers::{
    backends, claims, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD,
};

const ORIGIN: &str = "http://127.0.0.1:8080";
const MFA_GRANT: &str = "urn:tessera:grant-type:mfa-otp";

async fn bearer_post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.fetch().await
}

async fn login(app: &TestApp) -> reqwest::Response {
    app.password_grant("mfa@example.com", STRONG_PASSWORD, "openid")
        .await
}

async fn mfa_grant(app: &TestApp, mfa_token: &str, field: &str, code: &str) -> reqwest::Response {
    app.token(&[
        ("grant_type", MFA_GRANT),
        ("client_id", "spa"),
        ("mfa_token", mfa_token),
        (field, code),
    ])
    .await
}

async fn challenge(app: &TestApp) -> String {
    let response = login(app).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required");
    body["mfa_token"].as_str().unwrap().to_owned()
}

#[apply(backends)]
#[tokio::test]
async fn totp_enrolment_step_up_replay_recovery_codes_and_disable(backend: Backend) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[("cors_origins", ORIGIN)],
        clock.clone(),
    )
    .await
    .unwrap();
    app.user("mfa@example.com").await;
    let first: Value = login(&app).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["amr"], json!(["pwd"]));

    // setup: secret, otpauth URI with issuer and account, a real PNG
    let setup: Value = bearer_post(&app, &access, "/api/v1/me/mfa/totp", None)
        .await
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let uri = setup["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(
        uri.contains("issuer=tessera") && uri.contains("mfa%40example.com")
            || uri.contains("mfa@example.com"),
        "{uri}"
    );
    let png = STANDARD
        .decode(
            setup["qr_png"]
                .as_str()
                .unwrap()
                .strip_prefix("data:image/png;base64,")
                .unwrap(),
        )
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "the QR code is a PNG");

    // pending: logins do not ask for a code yet; a wrong code does not confirm
    assert_eq!(login(&app).await.status(), StatusCode::OK);
    let wrong = bearer_post(
        &app,
        &access,
        "/api/v1/me/mfa/totp/confirm",
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let code = crate::helpers::pyotp_code(&secret, &clock);
    let confirmed = bearer_post(
        &app,
        &access,
        "/api/v1/me/mfa/totp/confirm",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let recovery: Vec<String> = confirmed.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(
        bearer_post(&app, &access, "/api/v1/me/mfa/totp", None)
            .await
            .status(),
        StatusCode::CONFLICT,
        "enabled: setup again is refused"
    );

    // step-up: the code that confirmed is spent (same time step); a new step's code works
    let mfa_token = challenge(&app).await;
    let replay = mfa_grant(&app, &mfa_token, "otp", &code).await;
    assert_eq!(
        replay.status(),
        StatusCode::BAD_REQUEST,
        "a replayed code in its own window"
    );
    let malformed = mfa_grant(&app, &mfa_token, "otp", "12ab56").await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    clock.advance(Duration::from_secs(30));
    let fresh = crate::helpers::pyotp_code(&secret, &clock);
    let tokens = mfa_grant(&app, &mfa_token, "otp", &fresh).await;
    assert_eq!(
        tokens.status(),
        StatusCode::OK,
        "the mfa_token survived the wrong codes"
    );
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    let used = mfa_grant(&app, &mfa_token, "otp", &fresh).await;
    assert_eq!(
        used.status(),
        StatusCode::BAD_REQUEST,
        "the mfa_token is single use"
    );
    let again = challenge(&app).await;
    assert_eq!(
        mfa_grant(&app, &again, "otp", &fresh).await.status(),
        StatusCode::BAD_REQUEST,
        "the same code twice"
    );
    assert_eq!(
        mfa_grant(&app, "tsm_forged", "otp", &fresh).await.status(),
        StatusCode::BAD_REQUEST
    );

    // a recovery code works once (case and dash do not matter)
    let by_recovery = mfa_grant(
        &app,
        &again,
        "recovery_code",
        &recovery[0].to_lowercase().replace('-', ""),
    )
    .await;
    assert_eq!(by_recovery.status(), StatusCode::OK);
    let third = challenge(&app).await;
    assert_eq!(
        mfa_grant(&app, &third, "recovery_code", &recovery[0])
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    // the SPA path: mfa_required in a 200, then /session/mfa sets the cookie
    let spa = app
        .spa_call(reqwest::Method::POST, "/api/v1/session", ORIGIN, None)
        .json(&json!({"email": "mfa@example.com", "password": STRONG_PASSWORD}))
        .fetch()
        .await;
    assert_eq!(spa.status(), StatusCode::OK);
    assert!(
        spa.headers().get("set-cookie").is_none(),
        "no session before the second factor"
    );
    let spa: Value = spa.json().await.unwrap();
    assert_eq!(spa["mfa_required"], true);
    clock.advance(Duration::from_secs(30));
    let done = app.spa_call(reqwest::Method::POST, "/api/v1/session/mfa", ORIGIN, None)
        .json(&json!({"mfa_token": spa["mfa_token"], "code": crate::helpers::pyotp_code(&secret, &clock)}))
        .fetch().await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("tessera_rt="));
    let spa_access = done.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims(&spa_access)["amr"], json!(["pwd", "otp"]));

    // new recovery codes need a code; the old ones stop working
    clock.advance(Duration::from_secs(30));
    let regenerated = bearer_post(
        &app,
        &spa_access,
        "/api/v1/me/mfa/recovery-codes",
        Some(json!({"code": crate::helpers::pyotp_code(&secret, &clock)})),
    )
    .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    let fourth = challenge(&app).await;
    assert_eq!(
        mfa_grant(&app, &fourth, "recovery_code", &recovery[1])
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    // disabling needs the password and a code
    clock.advance(Duration::from_secs(30));
    let code = crate::helpers::pyotp_code(&secret, &clock);
    let disable = |password: &str, code: &str| {
        app.http
            .delete(app.url("/api/v1/me/mfa/totp"))
            .bearer_auth(&spa_access)
            .json(&json!({"password": password, "code": code}))
            .send()
    };
    assert_eq!(
        disable("Wrong-password-but-long-1", &code)
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        disable(STRONG_PASSWORD, "000000").await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        disable(STRONG_PASSWORD, &code).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        login(&app).await.status(),
        StatusCode::OK,
        "no second factor any more"
    );

    let audit: Value = app.admin_get("/admin/audit?limit=1000").fetch_json().await;
    let types: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for expected in [
        "mfa_enabled",
        "mfa_disabled",
        "recovery_code_used",
        "mfa_failed",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
}

#[apply(backends)]
#[tokio::test]
async fn wrong_codes_count_toward_the_lockout(backend: Backend) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[("lockout_account_ceiling", "0")],
        clock.clone(),
    )
    .await
    .unwrap();
    app.user("mfa@example.com").await;
    app.enrol_totp("mfa@example.com", &clock).await;
    let mfa_token = challenge(&app).await;
    // the right password counted one attempt and did not clear the count: only a complete
    // login does, so knowing the password does not buy fresh guesses at the code
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(mfa_grant(&app, &mfa_token, "otp", "000000").await.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::BAD_REQUEST)
            .count(),
        4,
        "{statuses:?}"
    );
}

#[apply(backends)]
#[tokio::test]
async fn a_code_from_more_than_one_step_ago_is_refused(backend: Backend) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(Arc::new(TestDb::on(backend).await), &[], clock.clone())
        .await
        .unwrap();
    app.user("mfa@example.com").await;
    let secret = app.enrol_totp("mfa@example.com", &clock).await;
    clock.advance(Duration::from_secs(30));
    let unused = crate::helpers::pyotp_code(&secret, &clock);
    clock.advance(Duration::from_secs(90));
    let mfa_token = challenge(&app).await;
    assert_eq!(
        mfa_grant(&app, &mfa_token, "otp", &unused).await.status(),
        StatusCode::BAD_REQUEST,
        "three steps old"
    );
    let fresh = crate::helpers::pyotp_code(&secret, &clock);
    assert_eq!(
        mfa_grant(&app, &mfa_token, "otp", &fresh).await.status(),
        StatusCode::OK
    );
}

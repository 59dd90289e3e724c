//! A passkey as the second factor after a password (book § Passkeys): offered to a user
//! with TOTP and a passkey, a ceremony bound to the pending step, refusals that leave the
//! step open, and the metrics it is counted in.

use std::sync::Arc;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::FixedClock;

use super::*;
use crate::helpers::passkey::SoftAuthenticator;
use crate::helpers::{backends, Backend};

/// The second step of a password sign-in (`POST /api/v1/session`) for `email`: the body.
async fn password_step(app: &TestApp, email: &str) -> Value {
    let body = json!({ "email": email, "password": STRONG_PASSWORD });
    let response = session_call(app, "/api/v1/session", body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["mfa_required"], true, "{body}");
    body
}

/// Options for the passkey answer to the second step of `mfa_token`.
async fn second_step_options(app: &TestApp, mfa_token: &Value) -> reqwest::Response {
    let body = json!({ "mfa_token": mfa_token });
    session_call(app, "/api/v1/session/passkey/options", body).await
}

async fn second_step(
    app: &TestApp,
    mfa_token: &Value,
    ceremony: &Value,
    credential: Value,
) -> reqwest::Response {
    let body = json!({ "mfa_token": mfa_token, "ceremony": ceremony, "credential": credential });
    session_call(app, "/api/v1/session/mfa", body).await
}

/// book § Passkeys: a user with TOTP and a passkey may answer the password's second step
/// with the passkey; the ceremony is bound to that step, a refused answer leaves the step
/// open, and a user without a passkey is told so.
#[apply(backends)]
#[tokio::test]
async fn a_passkey_stands_in_for_the_code_after_the_password(backend: Backend) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = app_at(backend, clock.clone()).await;
    app.user("kim@example.com").await;
    app.user("lou@example.com").await;
    let (token, _) = signed_in(&app, "kim@example.com").await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    assert_eq!(
        register(&app, &token, &mut authenticator).await.0,
        StatusCode::OK
    );
    // a passkey created for this server, never registered
    let mut stranger = SoftAuthenticator::new(ORIGIN);
    stranger.create(&registration_options(&app, &token).await.1["publicKey"]);
    app.enrol_totp("kim@example.com", &clock).await;
    app.enrol_totp("lou@example.com", &clock).await;

    // a user with TOTP alone is offered codes, and a passkey ceremony is refused
    let lou = password_step(&app, "lou@example.com").await;
    assert_eq!(lou["methods"], json!(["otp", "recovery_code"]));
    let response = second_step_options(&app, &lou["mfa_token"]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "no_passkey");

    let kim = password_step(&app, "kim@example.com").await;
    assert_eq!(kim["methods"], json!(["otp", "recovery_code", "passkey"]));
    let mfa_token = &kim["mfa_token"];

    // malformed requests
    let both = json!({ "email": "kim@example.com", "mfa_token": mfa_token });
    let response = session_call(&app, "/api/v1/session/passkey/options", both).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let unknown = second_step_options(&app, &json!("tsm_unknown")).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    // the ceremony lists the user's passkey and is bound to this step: not to a sign-in
    // with the passkey alone, and a sign-in's ceremony is not this step's
    let response = second_step_options(&app, mfa_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let options: Value = response.json().await.unwrap();
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "{options}");
    let alone = answer(&app, &options, &mut authenticator).await;
    assert_eq!(alone.status(), StatusCode::BAD_REQUEST);
    let discoverable = sign_in_options(&app, None).await;
    let assertion = authenticator.get(&discoverable["publicKey"]);
    let crossed = second_step(&app, mfa_token, &discoverable["ceremony"], assertion).await;
    assert_eq!(crossed.status(), StatusCode::UNAUTHORIZED);

    // a code and a passkey at once
    let body =
        json!({ "mfa_token": mfa_token, "code": "123456", "ceremony": "tsp_x", "credential": {} });
    let response = session_call(&app, "/api/v1/session/mfa", body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // a passkey that is not the user's: refused, audited, and the step stays open
    let options: Value = second_step_options(&app, mfa_token)
        .await
        .json()
        .await
        .unwrap();
    let foreign = second_step(
        &app,
        mfa_token,
        &options["ceremony"],
        stranger.assert_with(0, &options["publicKey"]),
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);
    let failures = audit_types(&app, "mfa_failed").await;
    assert!(
        failures
            .iter()
            .any(|e| e["detail"]["reason"] == "passkey_unknown"),
        "{failures:?}"
    );

    // the user's passkey completes the sign-in once
    let options: Value = second_step_options(&app, mfa_token)
        .await
        .json()
        .await
        .unwrap();
    let assertion = authenticator.get(&options["publicKey"]);
    let response = second_step(&app, mfa_token, &options["ceremony"], assertion).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("set-cookie").is_some());
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "hwk", "mfa"])
    );
    let again = second_step_options(&app, mfa_token).await;
    assert_eq!(
        again.status(),
        StatusCode::UNAUTHORIZED,
        "the step is used up"
    );
}

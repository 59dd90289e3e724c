//! Issue 12 (book § Configuration): a completed reset or a password change leaves no other way in:
//! every outstanding reset link and every pending MFA login of the user stop working.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::FixedClock;

use crate::helpers::Webhook;
use crate::helpers::{backends, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD};
use crate::reset::{forgot, reset, NEW_PASSWORD};

const OTHER_PASSWORD: &str = "a-Third-long-passphrase-55";

async fn reset_tokens(app: &TestApp, hook: &Webhook, email: &str, count: usize) -> Vec<String> {
    let already = hook.wait_for(0).await.len();
    for _ in 0..count {
        assert_eq!(forgot(app, email).await.status(), StatusCode::ACCEPTED);
    }
    hook.wait_for(already + count).await[already..]
        .iter()
        .map(|m| m["token"].as_str().unwrap().to_owned())
        .collect()
}

async fn mfa_challenge(app: &TestApp, password: &str) -> String {
    let response = app
        .password_grant("two@example.com", password, "openid")
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    response.json::<Value>().await.unwrap()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[apply(backends)]
#[tokio::test]
async fn a_reset_or_a_password_change_voids_every_other_reset_link_and_pending_mfa_login(
    backend: Backend,
) {
    let hook = Webhook::start(Duration::ZERO).await;
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("notify_webhook_url", &hook.url),
            ("rate_limit_forgot_email", "0"),
        ],
        clock.clone(),
    )
    .await
    .unwrap();
    app.user("two@example.com").await;

    // a user with TOTP, so a correct password leaves a pending MFA login behind
    let secret = app.enrol_totp("two@example.com", &clock).await;
    clock.advance(Duration::from_secs(30));

    let pending = mfa_challenge(&app, STRONG_PASSWORD).await;
    let tokens = reset_tokens(&app, &hook, "two@example.com", 2).await;
    assert_eq!(
        reset(&app, &tokens[0], NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    let second = reset(&app, &tokens[1], OTHER_PASSWORD).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        second.json::<Value>().await.unwrap()["error"],
        "invalid_token"
    );
    let step = app
        .mfa_otp(&pending, &crate::helpers::pyotp_code(&secret, &clock))
        .await;
    assert_eq!(step.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        step.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // the same after a password change: sign in fully, leave a link and a pending login
    clock.advance(Duration::from_secs(30));
    let pending = mfa_challenge(&app, NEW_PASSWORD).await;
    let signed_in: Value = app
        .mfa_otp(&pending, &crate::helpers::pyotp_code(&secret, &clock))
        .await
        .json()
        .await
        .unwrap();
    let access = signed_in["access_token"].as_str().unwrap().to_owned();
    clock.advance(Duration::from_secs(30));
    let pending = mfa_challenge(&app, NEW_PASSWORD).await;
    let link = reset_tokens(&app, &hook, "two@example.com", 1).await;
    let changed = app
        .http
        .post(app.url("/api/v1/me/password"))
        .bearer_auth(&access)
        .json(&json!({"current_password": NEW_PASSWORD, "new_password": OTHER_PASSWORD}))
        .fetch()
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        reset(&app, &link[0], STRONG_PASSWORD).await.status(),
        StatusCode::BAD_REQUEST
    );
    let step = app
        .mfa_otp(&pending, &crate::helpers::pyotp_code(&secret, &clock))
        .await;
    assert_eq!(step.status(), StatusCode::BAD_REQUEST);
}

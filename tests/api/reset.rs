//! book § Endpoints, book § Configuration, issue 7: password reset through a webhook notifier, single use, expiry,
//! sessions and access tokens revoked, and a request that looks the same for every email.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};

use crate::helpers::{
    backends, spawn_on, try_spawn_on, Backend, Fetch, TestApp, TestDb, Webhook, STRONG_PASSWORD,
};

pub(crate) const NEW_PASSWORD: &str = "another-Long-passphrase-77";

pub(crate) async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/password/forgot"))
        .json(&json!({ "email": email }))
        .fetch()
        .await
}

pub(crate) async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/password/reset"))
        .json(&json!({ "token": token, "new_password": password }))
        .fetch()
        .await
}

#[apply(backends)]
#[tokio::test]
async fn a_reset_through_the_webhook_works_once_and_ends_every_session_and_access_token(
    backend: Backend,
) {
    let hook = Webhook::start(Duration::ZERO).await;
    let app = spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("notify_webhook_url", &hook.url),
            // registration sends no verification link: the hook sees reset messages only
            ("email_verification", "off"),
            ("password_reset_url", "https://app.example.com/reset"),
        ],
    )
    .await;
    app.user("reset@example.com").await;
    let before: Value = app
        .password_grant("reset@example.com", STRONG_PASSWORD, "openid")
        .await
        .json()
        .await
        .unwrap();
    let (id, secret) = app.client(&["client_credentials"], false, false).await;
    let introspector = (id, secret);
    let old_access = before["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect_as(&introspector, old_access).await["active"],
        true
    );

    assert_eq!(
        forgot(&app, "Reset@Example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let sent = hook.wait_for(1).await;
    let message = &sent[0];
    assert_eq!(message["event"], "password_reset");
    assert_eq!(message["email"], "reset@example.com");
    let token = message["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tsp_") && token.len() == 47, "{token}");
    assert_eq!(
        message["reset_link"],
        format!("https://app.example.com/reset#token={token}")
    );

    // a weak password is refused without using the token up
    let weak = reset(&app, &token, "password").await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let body: Value = weak.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    let again = reset(&app, &token, "yet-Another-passphrase-99").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");

    assert_eq!(
        app.introspect_as(&introspector, old_access).await["active"],
        false
    );
    let refresh = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", before["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(
        refresh.status(),
        StatusCode::BAD_REQUEST,
        "the old session is gone"
    );
    assert_eq!(
        app.password_grant("reset@example.com", STRONG_PASSWORD, "openid")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.password_grant("reset@example.com", NEW_PASSWORD, "openid")
            .await
            .status(),
        StatusCode::OK
    );

    let audit: Value = app
        .admin_get("/admin/audit?type=password_reset_completed")
        .fetch_json()
        .await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1);
    let text = audit.to_string();
    assert!(!text.contains(&token));
}

#[apply(backends)]
#[tokio::test]
async fn forgot_answers_202_at_once_for_every_email_and_only_real_accounts_get_a_message(
    backend: Backend,
) {
    // a slow mailer: the answer must not wait for it, or timing would tell who has an account
    let hook = Webhook::start(Duration::from_millis(1500)).await;
    let app = spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("notify_webhook_url", &hook.url),
            ("email_verification", "off"),
        ],
    )
    .await;
    app.user("real@example.com").await;
    for email in ["real@example.com", "ghost@example.com"] {
        let started = Instant::now();
        let response = forgot(&app, email).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{email}");
        assert!(response.text().await.unwrap().is_empty());
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{email} took {:?}",
            started.elapsed()
        );
    }
    let sent = hook.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(hook.received(), 1, "no message for an unknown email");
    assert_eq!(sent[0]["email"], "real@example.com");

    for bad in [
        json!({"email": "not-an-email"}),
        json!({"email": "a@example.com", "extra": 1}),
        json!({}),
    ] {
        let response = app
            .http
            .post(app.url("/api/v1/password/forgot"))
            .json(&bad)
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[apply(backends)]
#[tokio::test]
async fn expired_malformed_and_deleted_users_tokens_are_refused_and_forgot_is_rate_limited_per_email(
    backend: Backend,
) {
    let hook = Webhook::start(Duration::ZERO).await;
    let clock = Arc::new(tessera::clock::FixedClock::starting_now());
    let app = try_spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("notify_webhook_url", &hook.url),
            // registration sends no verification link: the hook sees reset messages only
            ("email_verification", "off"),
            ("rate_limit_forgot_email", "2/86400"),
        ],
        clock.clone(),
    )
    .await
    .unwrap();
    app.user("late@example.com").await;
    app.user("gone@example.com").await;
    forgot(&app, "late@example.com").await;
    forgot(&app, "gone@example.com").await;
    let sent = hook.wait_for(2).await;
    let token_for = |email: &str| {
        sent.iter().find(|m| m["email"] == email).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (late, gone) = (token_for("late@example.com"), token_for("gone@example.com"));

    clock.advance(Duration::from_secs(15 * 60 + 1));
    assert_eq!(
        reset(&app, &late, NEW_PASSWORD).await.status(),
        StatusCode::BAD_REQUEST,
        "expired"
    );

    let id = app.user_id("gone@example.com").await;
    let deleted = app
        .admin_call(reqwest::Method::DELETE, &format!("/admin/users/{id}"))
        .fetch()
        .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        reset(&app, &gone, NEW_PASSWORD).await.status(),
        StatusCode::BAD_REQUEST,
        "deleted user"
    );

    for token in [
        "",
        "tsp_",
        "tsp_short",
        &format!("tsp_{}", "A".repeat(43)),
        &late.replace("tsp_", "tsr_"),
    ] {
        let response = reset(&app, token, NEW_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{token}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{token}");
    }

    assert_eq!(
        forgot(&app, "late@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let limited = forgot(&app, "late@example.com").await;
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "3rd request for one email in a day"
    );
    assert!(limited.headers().contains_key("retry-after"));
    let ghost = forgot(&app, "ghost@example.com").await;
    assert_eq!(
        ghost.status(),
        StatusCode::ACCEPTED,
        "other emails are not affected"
    );
}

#[tokio::test]
async fn a_webhook_that_closes_a_pooled_connection_loses_no_reset_message() {
    let hook = Webhook::closing_pooled_connections().await;
    let app = spawn_on(
        Arc::new(TestDb::on(Backend::Embedded).await),
        &[
            ("notify_webhook_url", &hook.url),
            ("email_verification", "off"),
        ],
    )
    .await;
    for email in ["one@example.com", "two@example.com", "three@example.com"] {
        app.user(email).await;
        assert_eq!(forgot(&app, email).await.status(), StatusCode::ACCEPTED);
    }
    let bodies = hook.wait_for(3).await;
    let emails: Vec<&str> = bodies
        .iter()
        .map(|b| b["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["one@example.com", "two@example.com", "three@example.com"]
    );
}

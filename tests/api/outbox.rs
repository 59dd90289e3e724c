//! The outbox (book § Email) end to end: a reset link's message outlives a webhook outage
//! and is retried with backoff; one whose every attempt failed is listed for operators,
//! counted, and delivered by an operator's retry; one whose link expired first is dropped;
//! and each security notice goes out once with the change it announces.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::FixedClock;
use tessera::service::outbox::{backoff, MAX_ATTEMPTS};

use crate::helpers::Webhook;
use crate::helpers::{
    backends, pyotp_code, spawn_on_clock, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD,
};
use crate::reset::{forgot, reset, NEW_PASSWORD};

/// An app whose reset links go to `hook` and live `ttl` seconds.
async fn app_with(backend: Backend, hook: &Webhook, clock: Arc<FixedClock>) -> TestApp {
    app_with_ttl(backend, hook, clock, "900").await
}

async fn app_with_ttl(
    backend: Backend,
    hook: &Webhook,
    clock: Arc<FixedClock>,
    ttl: &str,
) -> TestApp {
    let db = Arc::new(TestDb::on(backend).await);
    let settings = [
        ("notify_webhook_url", hook.url.as_str()),
        // registration sends no verification link: each test counts its own messages
        ("email_verification", "off"),
        ("password_reset_ttl", ttl),
    ];
    spawn_on_clock(db, &settings, clock).await
}

async fn outbox_view(app: &TestApp) -> Value {
    let (status, body) = app.admin_json(Method::GET, "/admin/outbox", None).await;
    assert_eq!(status, StatusCode::OK);
    body
}

#[apply(backends)]
#[tokio::test]
async fn a_reset_message_outlives_a_webhook_outage_and_is_retried_with_backoff(backend: Backend) {
    let hook = Webhook::down_for(2).await;
    let clock = Arc::new(FixedClock::starting_now());
    let app = app_with(backend, &hook, clock.clone()).await;
    app.user("ola@example.com").await;
    assert_eq!(
        forgot(&app, "ola@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let retrying = |n: u32| {
        format!(r#"tessera_outbox_failures_total{{kind="password_reset",outcome="retrying"}} {n}"#)
    };
    // at once, refused; not before its backoff, then refused again; then delivered
    app.wait_for_metric(&retrying(1)).await;
    assert_eq!(outbox_view(&app).await["queued"], 1);
    clock.advance(backoff(1) - Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hook.refusals_left(),
        1,
        "not tried again before its backoff"
    );
    clock.advance(Duration::from_secs(1));
    hook.wait_refusing(0).await;
    app.wait_for_metric(&retrying(2)).await;
    clock.advance(backoff(2));
    let bodies = hook.wait_for(1).await;
    assert_eq!(bodies[0]["email"], "ola@example.com");
    let token = bodies[0]["token"].as_str().unwrap();
    assert_eq!(
        reset(&app, token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT,
        "the retried message's link works"
    );
    app.wait_for_metric(r#"tessera_outbox_sent_total{kind="password_reset"} 1"#)
        .await;
    // and the reset's own notice
    app.wait_for_metric(r#"tessera_outbox_sent_total{kind="security_notice"} 1"#)
        .await;
    let view = outbox_view(&app).await;
    assert_eq!(
        (view["queued"].as_u64(), view["failed"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn a_message_given_up_on_is_listed_and_an_operators_retry_delivers_it() {
    let hook = Webhook::down_for(MAX_ATTEMPTS as usize).await;
    let clock = Arc::new(FixedClock::starting_now());
    // every backoff together is about 2.4 hours: the link must outlive them
    let app = app_with_ttl(Backend::Embedded, &hook, clock.clone(), "86400").await;
    app.user("ike@example.com").await;
    forgot(&app, "ike@example.com").await;
    for attempt in 1..MAX_ATTEMPTS {
        let series = format!(
            r#"tessera_outbox_failures_total{{kind="password_reset",outcome="retrying"}} {attempt}"#
        );
        app.wait_for_metric(&series).await;
        clock.advance(backoff(attempt));
    }
    app.wait_for_metric(
        r#"tessera_outbox_failures_total{kind="password_reset",outcome="gave_up"} 1"#,
    )
    .await;
    app.wait_for_metric("tessera_outbox_failed 1").await;

    let view = outbox_view(&app).await;
    assert_eq!(view["failed"], 1, "{view}");
    let failure = &view["failures"][0];
    assert_eq!(failure["kind"], "password_reset");
    assert_eq!(failure["attempts"], MAX_ATTEMPTS);
    let error = failure["last_error"].as_str().unwrap();
    assert!(error.contains("503"), "{error}");
    assert!(
        !view.to_string().contains("tsp_"),
        "no token in the view: {view}"
    );

    let id = failure["id"].as_str().unwrap();
    let path = format!("/admin/outbox/{id}/retry");
    let (status, _) = app.admin_json(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let bodies = hook.wait_for(1).await;
    assert_eq!(bodies[0]["email"], "ike@example.com");
    let (status, _) = app.admin_json(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing failed is left");
    let (status, _) = app
        .admin_json(Method::POST, "/admin/outbox/not-an-id/retry", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit) = app
        .admin_json(Method::GET, "/admin/audit?type=outbox_retried", None)
        .await;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test]
async fn a_reset_link_that_expired_during_an_outage_is_dropped_not_sent() {
    let hook = Webhook::down_for(1).await;
    let clock = Arc::new(FixedClock::starting_now());
    let app = app_with(Backend::Embedded, &hook, clock.clone()).await;
    app.user("eve@example.com").await;
    forgot(&app, "eve@example.com").await;
    app.wait_for_metric(
        r#"tessera_outbox_failures_total{kind="password_reset",outcome="retrying"} 1"#,
    )
    .await;
    // the link lives 15 minutes; the outage outlasts it
    clock.advance(Duration::from_secs(16 * 60));
    app.wait_for_metric(
        r#"tessera_outbox_failures_total{kind="password_reset",outcome="expired"} 1"#,
    )
    .await;
    assert_eq!(outbox_view(&app).await["queued"], 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook.refusals_left(), 0, "the webhook is up again");
    assert_eq!(hook.received(), 0, "a dead link is not sent");
}

/// book § Email: TOTP turned on and off, the password changed and reset: each change
/// sends its notice once, to the account's address, with no secret in it.
#[tokio::test]
async fn each_security_notice_goes_out_once_with_its_change() {
    let hook = Webhook::start(Duration::ZERO).await;
    let clock = Arc::new(FixedClock::starting_now());
    let app = app_with(Backend::Embedded, &hook, clock.clone()).await;
    let email = "sam@example.com";
    app.user(email).await;
    let secret = app.enrol_totp(email, &clock).await;

    clock.advance(Duration::from_secs(30));
    let first: Value = app
        .password_grant(email, STRONG_PASSWORD, "openid")
        .await
        .json()
        .await
        .unwrap();
    let code = pyotp_code(&secret, &clock);
    let tokens: Value = app
        .mfa_otp(first["mfa_token"].as_str().unwrap(), &code)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    clock.advance(Duration::from_secs(30));
    let body = json!({ "password": STRONG_PASSWORD, "code": pyotp_code(&secret, &clock) });
    let off = app
        .http
        .delete(app.url("/api/v1/me/mfa/totp"))
        .bearer_auth(access)
        .json(&body)
        .fetch()
        .await;
    assert!(off.status().is_success(), "{}", off.status());
    let body = json!({ "current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD });
    let changed = app
        .http
        .post(app.url("/api/v1/me/password"))
        .bearer_auth(access)
        .json(&body)
        .fetch()
        .await;
    assert!(changed.status().is_success(), "{}", changed.status());
    forgot(&app, email).await;
    let bodies = hook.wait_for(4).await;
    let link = bodies
        .iter()
        .find(|b| b["event"] == "password_reset")
        .expect("the reset link's message");
    let token = link["token"].as_str().unwrap();
    assert_eq!(
        reset(&app, token, "a-Third-long-passphrase-31")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    let bodies = hook.wait_for(5).await;
    let mut notices: Vec<&str> = bodies
        .iter()
        .filter(|b| b["event"] == "security_notice")
        .map(|b| b["notice"].as_str().unwrap())
        .collect();
    notices.sort();
    assert_eq!(
        notices,
        [
            "password_changed",
            "password_reset",
            "totp_disabled",
            "totp_enabled"
        ]
    );
    for notice in bodies.iter().filter(|b| b["event"] == "security_notice") {
        assert_eq!(notice["email"], email);
        assert!(notice.get("token").is_none(), "{notice}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received(), 5, "each notice once");
}

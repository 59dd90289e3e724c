//! The outbox (book § Email) end to end: a reset link's message outlives a webhook outage
//! and is retried with backoff; one whose every attempt failed is listed for operators,
//! counted, and delivered by an operator's retry; one whose link expired first is dropped.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::Value;
use tessera::clock::FixedClock;
use tessera::service::outbox::{backoff, MAX_ATTEMPTS};

use crate::helpers::{backends, spawn_on_clock, Backend, Fetch, TestApp, TestDb};
use crate::reset::{forgot, reset, Webhook, NEW_PASSWORD};

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
        ("password_reset_ttl", ttl),
    ];
    spawn_on_clock(db, &settings, clock).await
}

/// Waits until the metrics show `series` (the worker records a failure after its store
/// write, so the retry time is set once it shows).
async fn wait_for_metric(app: &TestApp, series: &str) {
    let started = std::time::Instant::now();
    loop {
        let text = app.http.get(format!("{}/metrics", app.admin)).fetch().await;
        let text = text.text().await.unwrap();
        if text.contains(series) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{series} not in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    wait_for_metric(&app, &retrying(1)).await;
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
    wait_for_metric(&app, &retrying(2)).await;
    clock.advance(backoff(2));
    let bodies = hook.wait_for(1).await;
    assert_eq!(bodies[0]["email"], "ola@example.com");
    let token = bodies[0]["token"].as_str().unwrap();
    assert_eq!(
        reset(&app, token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT,
        "the retried message's link works"
    );
    wait_for_metric(
        &app,
        r#"tessera_outbox_sent_total{kind="password_reset"} 1"#,
    )
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
        wait_for_metric(&app, &series).await;
        clock.advance(backoff(attempt));
    }
    wait_for_metric(
        &app,
        r#"tessera_outbox_failures_total{kind="password_reset",outcome="gave_up"} 1"#,
    )
    .await;
    wait_for_metric(&app, "tessera_outbox_failed 1").await;

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
    wait_for_metric(
        &app,
        r#"tessera_outbox_failures_total{kind="password_reset",outcome="retrying"} 1"#,
    )
    .await;
    // the link lives 15 minutes; the outage outlasts it
    clock.advance(Duration::from_secs(16 * 60));
    wait_for_metric(
        &app,
        r#"tessera_outbox_failures_total{kind="password_reset",outcome="expired"} 1"#,
    )
    .await;
    assert_eq!(outbox_view(&app).await["queued"], 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook.refusals_left(), 0, "the webhook is up again");
    assert_eq!(hook.received(), 0, "a dead link is not sent");
}

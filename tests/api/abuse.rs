//! book § Configuration, issue 6: account lockout (atomic, exponential, per account), rate limits
//! shared by instances, and the client IP behind trusted proxies.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::Value;
use tessera::clock::FixedClock;

use crate::helpers::{
    backends, spawn_on, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD,
};

const WRONG: &str = "Wrong-password-but-long-1";
/// Only the lockout acts in these tests.
const NO_RATE_LIMITS: [(&str, &str); 2] = [
    ("rate_limit_login_ip", "0"),
    ("lockout_account_ceiling", "0"),
];

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.password_grant(email, password, "openid").await
}

#[apply(backends)]
#[tokio::test]
async fn five_failures_lock_the_account_for_a_minute_doubling_and_unknown_emails_behave_the_same(
    backend: Backend,
) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(
        Arc::new(TestDb::on(backend).await),
        &NO_RATE_LIMITS,
        clock.clone(),
    )
    .await
    .unwrap();
    app.user("lock@example.com").await;

    for email in ["lock@example.com", "nobody@example.com"] {
        for attempt in 1..=5 {
            let response = login(&app, email, WRONG).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{email} attempt {attempt}"
            );
        }
        let locked = login(&app, email, STRONG_PASSWORD).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "{email}");
        assert_eq!(retry_after(&locked), 60);
        assert_eq!(locked.headers()["ratelimit-remaining"], "0");
        let body: Value = locked.json().await.unwrap();
        assert_eq!(
            body["error"], "too_many_requests",
            "the same answer for a real and an unknown account"
        );
    }

    clock.advance(Duration::from_secs(61));
    // after the lock: five more failures lock for twice as long
    for _ in 1..=5 {
        assert_eq!(
            login(&app, "lock@example.com", WRONG).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    let locked = login(&app, "lock@example.com", STRONG_PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&locked), 120);

    // an operator unlocks; a success then clears the count entirely
    let id = app.user_id("lock@example.com").await;
    let (status, _) = app
        .admin_json(Method::POST, &format!("/admin/users/{id}/unlock"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        login(&app, "lock@example.com", STRONG_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    for _ in 1..=4 {
        login(&app, "lock@example.com", WRONG).await;
    }
    assert_eq!(
        login(&app, "lock@example.com", STRONG_PASSWORD)
            .await
            .status(),
        StatusCode::OK,
        "a success reset the count: four failures do not lock"
    );
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/admin/users/00000000-0000-0000-0000-000000000000/unlock",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, events) = app
        .admin_json(Method::GET, "/admin/audit?type=account_locked", None)
        .await;
    assert!(!events["events"].as_array().unwrap().is_empty());
    let (_, events) = app
        .admin_json(Method::GET, "/admin/audit?type=user_unlocked", None)
        .await;
    assert_eq!(events["events"][0]["user_id"], id.as_str());
}

#[apply(backends)]
#[tokio::test]
async fn the_lock_is_capped_at_an_hour(backend: Backend) {
    let clock = Arc::new(FixedClock::starting_now());
    let mut overrides = NO_RATE_LIMITS.to_vec();
    overrides.push(("lockout_threshold", "1"));
    let app = try_spawn_on(
        Arc::new(TestDb::on(backend).await),
        &overrides,
        clock.clone(),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..8 {
        assert_eq!(
            login(&app, "cap@example.com", WRONG).await.status(),
            StatusCode::BAD_REQUEST
        );
        let locked = login(&app, "cap@example.com", WRONG).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait = retry_after(&locked);
        seen.push(wait);
        clock.advance(Duration::from_secs(wait + 1));
    }
    assert_eq!(seen, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
}

#[apply(backends)]
#[tokio::test]
async fn parallel_guesses_cannot_exceed_the_threshold(backend: Backend) {
    let mut overrides = NO_RATE_LIMITS.to_vec();
    overrides.push(("hash_queue", "100"));
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &overrides).await;
    app.user("race@example.com").await;
    let attempts = (0..30).map(|_| login(&app, "race@example.com", WRONG));
    let responses = futures_util::future::join_all(attempts).await;
    let checked = responses
        .iter()
        .filter(|r| r.status() == StatusCode::BAD_REQUEST)
        .count();
    let refused = responses
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (checked, refused),
        (5, 25),
        "exactly the threshold reached the password check"
    );
}

/// Postgres + Redis only: it runs two instances on one store.
#[tokio::test]
async fn login_rate_limits_per_ip_are_shared_by_instances_and_answer_429_with_ratelimit_headers() {
    let db = Arc::new(TestDb::new().await);
    let overrides = [("rate_limit_login_ip", "3/60"), ("lockout_threshold", "0")];
    let a = spawn_on(db.clone(), &overrides).await;
    let b = spawn_on(db.clone(), &overrides).await;
    assert_eq!(
        login(&a, "x1@example.com", WRONG).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login(&b, "x2@example.com", WRONG).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login(&a, "x3@example.com", WRONG).await.status(),
        StatusCode::BAD_REQUEST
    );
    let refused = login(&b, "x4@example.com", WRONG).await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the fourth, on the other instance"
    );
    assert_eq!(refused.headers()["ratelimit-limit"], "3");
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    let wait = retry_after(&refused);
    assert!(
        (1..=20).contains(&wait),
        "one request's worth of the period: {wait}"
    );
    let reset: u64 = refused.headers()["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((wait..=60).contains(&reset));
    assert_eq!(refused.headers()["cache-control"], "no-store");

    // the SPA login path shares the limit
    let spa = a
        .spa_call(
            reqwest::Method::POST,
            "/api/v1/session",
            "http://127.0.0.1:8080",
            None,
        )
        .json(&serde_json::json!({"email": "x5@example.com", "password": WRONG}))
        .fetch()
        .await;
    assert_eq!(spa.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(spa.headers().contains_key("retry-after"));
}

#[apply(backends)]
#[tokio::test]
async fn registrations_are_limited_per_address(backend: Backend) {
    let overrides = [
        ("rate_limit_register_ip", "2/3600"),
        ("lockout_threshold", "0"),
    ];
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &overrides).await;
    assert_eq!(
        app.register("r1@example.com", STRONG_PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.register("r2@example.com", STRONG_PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let third = app.register("r3@example.com", STRONG_PASSWORD).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(third.headers()["ratelimit-limit"], "2");
}

async fn login_from(app: &TestApp, forwarded: &str, email: &str) -> StatusCode {
    app.http
        .post(app.url("/oauth2/token"))
        .header("x-forwarded-for", forwarded)
        .form(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", email),
            ("password", WRONG),
        ])
        .fetch()
        .await
        .status()
}

#[apply(backends)]
#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy_and_the_rightmost_untrusted_one_wins(
    backend: Backend,
) {
    let db = Arc::new(TestDb::on(backend).await);
    let limits = [("rate_limit_login_ip", "1/60"), ("lockout_threshold", "0")];
    let direct = spawn_on(db.clone(), &limits).await;
    // untrusted peer: the header is ignored, so every request is the peer's
    assert_eq!(
        login_from(&direct, "203.0.113.1", "a@example.com").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login_from(&direct, "203.0.113.2", "b@example.com").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    let db = Arc::new(TestDb::on(backend).await);
    let mut proxied = limits.to_vec();
    proxied.push(("trusted_proxies", "127.0.0.1/32, 10.0.0.0/8"));
    let app = spawn_on(db, &proxied).await;
    assert_eq!(
        login_from(&app, "203.0.113.1", "a@example.com").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login_from(&app, "203.0.113.2", "b@example.com").await,
        StatusCode::BAD_REQUEST
    );
    // a client-supplied left part cannot pick the address: the right-most untrusted hop counts
    assert_eq!(
        login_from(&app, "198.18.0.9, 203.0.113.1, 10.1.2.3", "c@example.com").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "garbage, 203.0.113.3", "d@example.com").await,
        StatusCode::BAD_REQUEST
    );
    let (_, events) = app
        .admin_json(Method::GET, "/admin/audit?type=login_failed", None)
        .await;
    let ips: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["203.0.113.3", "203.0.113.2", "203.0.113.1"]);
}

//! book § Endpoints, book § Configuration, issue 7: password reset through a webhook notifier, single use, expiry,
//! sessions and access tokens revoked, and a request that looks the same for every email.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    backends, spawn_on, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD,
};

pub(crate) const NEW_PASSWORD: &str = "another-Long-passphrase-77";

/// A loopback webhook receiver: records each JSON body, answers 204 after `delay`.
pub(crate) struct Webhook {
    pub(crate) url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    /// The `503`s still to answer.
    refusals: Arc<std::sync::atomic::AtomicUsize>,
}

impl Webhook {
    pub(crate) async fn start(delay: Duration) -> Self {
        Self::serve(delay, false, 0).await
    }

    /// A receiver that answers `503` to its first `refusals` requests (an outage), then
    /// records and accepts as `start` does.
    pub(crate) async fn down_for(refusals: usize) -> Self {
        Self::serve(Duration::ZERO, false, refusals).await
    }

    /// A receiver that keeps each connection open after answering (no `connection:
    /// close`), and closes it without an answer when the next request arrives on it: what
    /// a webhook behind an idle-timeout proxy does to a pooled connection.
    pub(crate) async fn closing_pooled_connections() -> Self {
        Self::serve(Duration::ZERO, true, 0).await
    }

    async fn serve(delay: Duration, rude: bool, refusals: usize) -> Self {
        let refusals = Arc::new(std::sync::atomic::AtomicUsize::new(refusals));
        let left = refusals.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/tessera", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                let refusals = refusals.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap())
                                })
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + length {
                                let body: Value =
                                    serde_json::from_slice(&buf[end + 4..end + 4 + length])
                                        .unwrap();
                                tokio::time::sleep(delay).await;
                                let down = refusals
                                    .fetch_update(
                                        std::sync::atomic::Ordering::SeqCst,
                                        std::sync::atomic::Ordering::SeqCst,
                                        |n| n.checked_sub(1),
                                    )
                                    .is_ok();
                                if down {
                                    let _ = socket
                                        .write_all(
                                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                                        )
                                        .await;
                                    return;
                                }
                                seen.lock().unwrap().push(body);
                                if rude {
                                    let _ = socket
                                        .write_all(
                                            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
                                        )
                                        .await;
                                    // the next request on this connection gets no answer
                                    let _ = socket.read(&mut chunk).await;
                                    return;
                                }
                                // one request per connection, and it says so: without
                                // `connection: close` the client may reuse the connection
                                // this task is about to close, and lose its next request
                                let _ = socket
                                    .write_all(
                                        b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                                    )
                                    .await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Webhook {
            url,
            bodies,
            refusals: left,
        }
    }

    /// How many bodies were accepted so far.
    pub(crate) fn received(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    /// The outage's `503`s still to answer.
    pub(crate) fn refusals_left(&self) -> usize {
        self.refusals.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until only `left` of the outage's `503`s remain to be answered.
    pub(crate) async fn wait_refusing(&self, left: usize) {
        let started = Instant::now();
        while self.refusals.load(std::sync::atomic::Ordering::SeqCst) > left {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the webhook was not called again"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let bodies = self.bodies.lock().unwrap().clone();
            if bodies.len() >= count {
                return bodies;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "webhook got {bodies:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

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
        &[("notify_webhook_url", &hook.url)],
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
    assert_eq!(
        hook.bodies.lock().unwrap().len(),
        1,
        "no message for an unknown email"
    );
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

    let found: Value = app
        .admin_get("/admin/users?email=gone%40example.com")
        .fetch_json()
        .await;
    let id = found["users"][0]["id"].as_str().unwrap();
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
        &[("notify_webhook_url", &hook.url)],
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

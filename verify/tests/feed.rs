//! The verifier against a mock issuer's revocation feed: every kind of event, a stale
//! feed, the background follower and a 410.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;
use tessera_verify::{Error, Revocation, Verifier};

#[tokio::test]
async fn the_feed_revokes_tokens_sessions_users_and_keys_and_a_stale_feed_keeps_what_it_has() {
    let (a, b) = (key("a"), key("b"));
    let server = issuer(&[&a, &b]).await;
    let iss = server.uri();
    let revoked_jti = token(&iss, &a, json!({"jti": "gone", "sid": "s-live"}));
    let ended_session = token(&iss, &a, json!({"sid": "s-ended"}));
    let before_cutoff = token(
        &iss,
        &a,
        json!({"sub": "u-cut", "iat": now() - 60, "sid": "s2"}),
    );
    let after_cutoff = token(
        &iss,
        &a,
        json!({"sub": "u-cut", "iat": now() + 5, "sid": "s3"}),
    );
    let by_revoked_key = token(&iss, &b, json!({"sid": "s4"}));
    let untouched = token(&iss, &a, json!({"sid": "s5"}));
    mount_feed(
        &server,
        None,
        200,
        json!({"events": [
        {"type": "jti", "jti": "gone", "exp": now() + 900},
        {"type": "session", "sid": "s-ended", "exp": now() + 900},
        {"type": "user", "sub": "u-cut", "not_before": now()},
        {"type": "key", "kid": "b"},
        {"type": "something-new", "x": 1},
    ], "next": "c1"}),
    )
    .await;
    mount_feed(
        &server,
        Some("c1"),
        200,
        json!({"events": [], "next": "c1"}),
    )
    .await;
    let v = Verifier::builder(server.uri())
        .audience(AUD)
        .client_credentials("rs", "secret")
        .max_staleness(Duration::from_millis(400))
        .build()
        .await
        .unwrap();
    let feed_requests = server.received_requests().await.unwrap();
    let first = feed_requests
        .iter()
        .find(|r| r.url.path() == "/feed")
        .unwrap();
    assert!(first
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("Basic "));

    assert_eq!(
        v.verify(&revoked_jti).await.unwrap_err(),
        Error::Revoked(Revocation::Token)
    );
    assert_eq!(
        v.verify(&ended_session).await.unwrap_err(),
        Error::Revoked(Revocation::Session)
    );
    assert_eq!(
        v.verify(&before_cutoff).await.unwrap_err(),
        Error::Revoked(Revocation::User)
    );
    assert_eq!(
        v.verify(&by_revoked_key).await.unwrap_err(),
        Error::Revoked(Revocation::Key)
    );
    v.verify(&after_cutoff).await.unwrap();
    v.verify(&untouched).await.unwrap();
    assert_eq!(Error::Revoked(Revocation::Key).reason(), "revoked");

    // the feed goes down: what it said still holds, and staleness grows past the maximum
    server.reset().await;
    assert!(v.sync_feed().await.is_err());
    assert_eq!(
        v.verify(&revoked_jti).await.unwrap_err(),
        Error::Revoked(Revocation::Token)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(v.feed_staleness().unwrap() >= Duration::from_millis(400));
    assert_eq!(v.verify(&untouched).await.unwrap_err(), Error::FeedStale);
}

#[tokio::test]
async fn the_follower_polls_in_the_background_and_starts_over_after_a_410() {
    let a = key("a");
    let server = issuer(&[&a]).await;
    let iss = server.uri();
    mount_caught_up_feed(&server).await;
    let v = Verifier::builder(server.uri())
        .audience(AUD)
        .client_credentials("rs", "secret")
        .poll_interval(Duration::from_millis(150))
        .build()
        .await
        .unwrap();
    let t = token(&iss, &a, json!({"jti": "later"}));
    v.verify(&t).await.unwrap();

    // the cursor expires at the issuer; the feed from its start has the revocation
    server.reset().await;
    mount_discovery(&server).await;
    mount_feed(&server, Some("c0"), 410, json!({"error": "cursor_expired"})).await;
    mount_feed(
        &server,
        None,
        200,
        json!({"events": [{"type": "jti", "jti": "later", "exp": now() + 900}], "next": "c9"}),
    )
    .await;
    mount_feed(
        &server,
        Some("c9"),
        200,
        json!({"events": [], "next": "c9"}),
    )
    .await;
    let started = std::time::Instant::now();
    while v.verify_cached(&t).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "not refused within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        v.verify_cached(&t).unwrap_err(),
        Error::Revoked(Revocation::Token)
    );
}

#[tokio::test]
async fn the_follower_reads_on_while_more_is_true_and_honours_client_events() {
    let a = key("a");
    let server = issuer(&[&a]).await;
    let iss = server.uri();
    // an empty page that is not the end (the issuer's scan budget ran out), then events
    mount_feed(
        &server,
        None,
        200,
        json!({"events": [], "next": "c1", "more": true}),
    )
    .await;
    // a minute ahead: the token below is issued before it whichever second it is made in
    // (with `+ 1`, a token made after the next second began was not before it)
    mount_feed(
        &server,
        Some("c1"),
        200,
        json!({"events": [{"type": "client", "client_id": "gone-app", "not_before": now() + 60}], "next": "c2", "more": false}),
    )
    .await;
    mount_feed(
        &server,
        Some("c2"),
        200,
        json!({"events": [], "next": "c2", "more": false}),
    )
    .await;
    let v = Verifier::builder(server.uri())
        .audience(AUD)
        .client_credentials("rs", "secret")
        .background(false)
        .build()
        .await
        .unwrap();
    let of_deleted = token(&iss, &a, json!({"client_id": "gone-app", "sid": null}));
    let of_other = token(&iss, &a, json!({"client_id": "spa"}));
    assert_eq!(
        v.verify(&of_deleted).await.unwrap_err(),
        Error::Revoked(Revocation::Client)
    );
    v.verify(&of_other).await.unwrap();
}

#[tokio::test]
async fn a_feed_that_keeps_answering_410_is_not_read_in_a_spin() {
    let a = key("a");
    let server = issuer(&[&a]).await;
    mount_caught_up_feed(&server).await;
    let v = Verifier::builder(server.uri())
        .audience(AUD)
        .client_credentials("rs", "secret")
        .background(false)
        .build()
        .await
        .unwrap();
    // the feed is trimmed under every read: each cursor it hands out has expired
    server.reset().await;
    mount_discovery(&server).await;
    mount_feed(
        &server,
        None,
        200,
        json!({"events": [], "next": "cx", "more": true}),
    )
    .await;
    mount_feed(&server, Some("c0"), 410, json!({"error": "cursor_expired"})).await;
    mount_feed(&server, Some("cx"), 410, json!({"error": "cursor_expired"})).await;
    let started = std::time::Instant::now();
    let outcome = v.sync_feed().await;
    let took = started.elapsed();
    assert!(outcome.is_err(), "{outcome:?}");
    let reads = server.received_requests().await.unwrap().len();
    assert!(reads <= 8, "{reads} feed reads in one sync");
    assert!(
        took >= Duration::from_millis(1000),
        "restarts pause before reading again: {took:?}"
    );
}

#[test]
fn the_builder_never_prints_the_client_secret() {
    let builder = Verifier::builder("https://auth.example.com")
        .audience(AUD)
        .client_credentials("rs", "s3cr3t-value");
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("rs") && !shown.contains("s3cr3t-value"),
        "{shown}"
    );
}

#[test]
fn building_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let built = futures_lite_block_on(
        Verifier::builder("https://auth.example.com")
            .audience(AUD)
            .build(),
    );
    match built {
        Err(tessera_verify::SetupError::Config(why)) => assert!(why.contains("Tokio"), "{why}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

/// Polls a future to completion on this thread, with no runtime of any kind.
fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let waker = Waker::from(std::sync::Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

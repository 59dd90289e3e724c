//! The verifier against a mock issuer (wiremock): every check, the key cache's fetches
//! (counted), ETag revalidation, stale keys, dropped keys, and the revocation feed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::time::Duration;

use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, ES256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{json, Value};
use tessera_verify::{Algorithm, Error, Refresh, Revocation, Verifier};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUD: &str = "https://api.example.com";

struct Key {
    kid: String,
    private: Jwk,
    public: Jwk,
}

fn key(kid: &str) -> Key {
    let pair = ES256.generate_key_pair().unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(kid);
    public.set_algorithm("ES256");
    public.set_key_use("sig");
    Key {
        kid: kid.into(),
        private: pair.to_jwk_private_key(),
        public,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token signed by `key`, with the claims of a tessera access token and `changes`.
fn token(issuer: &str, key: &Key, changes: Value) -> String {
    let mut claims = json!({
        "iss": issuer, "sub": "user-1", "aud": AUD, "exp": now() + 900, "iat": now(),
        "nbf": now(), "jti": format!("jti-{}", rand_suffix()), "client_id": "spa",
        "scope": "openid api.read", "sid": "sid-1",
    });
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    let mut header = JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(&key.kid);
    let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    jwt::encode_with_signer(
        &payload,
        &header,
        &ES256.signer_from_jwk(&key.private).unwrap(),
    )
    .unwrap()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| Value::Object(k.public.as_ref().clone())).collect::<Vec<_>>() })
}

async fn issuer(keys: &[&Key]) -> MockServer {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_jwks(&server, keys, "\"v1\"").await;
    server
}

async fn mount_discovery(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": server.uri(),
            "jwks_uri": format!("{}/jwks", server.uri()),
            "revocation_feed_endpoint": format!("{}/feed", server.uri()),
        })))
        .mount(server)
        .await;
}

async fn mount_jwks(server: &MockServer, keys: &[&Key], etag: &str) {
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(jwks(keys))
                .insert_header("cache-control", "public, max-age=600")
                .insert_header("etag", etag),
        )
        .mount(server)
        .await;
}

async fn jwks_fetches(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap();
    requests.iter().filter(|r| r.url.path() == "/jwks").count()
}

async fn verifier(server: &MockServer) -> Verifier {
    Verifier::builder(server.uri())
        .audience(AUD)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_good_token_verifies_and_every_bad_claim_is_refused_by_name() {
    let a = key("a");
    let server = issuer(&[&a]).await;
    let v = verifier(&server).await;
    let iss = server.uri();
    let claims = v.verify(&token(&iss, &a, json!({}))).await.unwrap();
    assert_eq!((claims.sub.as_str(), claims.kid.as_str()), ("user-1", "a"));
    assert!(claims.has_scope("api.read"));
    // an audience list naming this one is fine
    let listed = token(&iss, &a, json!({"aud": ["other", AUD]}));
    assert!(v.verify(&listed).await.is_ok());

    let cases = [
        (json!({"iss": "https://evil.example"}), Error::WrongIssuer),
        (
            json!({"aud": "https://other.example"}),
            Error::WrongAudience,
        ),
        (json!({"exp": now() - 120}), Error::Expired),
        (json!({"nbf": now() + 120}), Error::NotYetValid),
        (json!({"jti": null}), Error::Malformed),
    ];
    for (changes, expected) in cases {
        let t = token(&iss, &a, changes.clone());
        assert_eq!(v.verify(&t).await.unwrap_err(), expected, "{changes}");
    }
    // within the leeway
    assert!(v
        .verify(&token(&iss, &a, json!({"exp": now() - 10})))
        .await
        .is_ok());

    // a tampered payload, another key's signature, an ID token, alg none and HS256
    let good = token(&iss, &a, json!({}));
    let parts: Vec<&str> = good.split('.').collect();
    let other = token(&iss, &key("a"), json!({}));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        other.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(v.verify(&forged).await.unwrap_err(), Error::BadSignature);
    let signed_by_another = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        other.split('.').nth(2).unwrap()
    );
    assert_eq!(
        v.verify(&signed_by_another).await.unwrap_err(),
        Error::BadSignature
    );
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for (header, expected) in [
        (
            json!({"alg": "ES256", "typ": "JWT", "kid": "a"}),
            Error::WrongType,
        ),
        (
            json!({"alg": "none", "typ": "at+jwt", "kid": "a"}),
            Error::DisallowedAlgorithm,
        ),
        (
            json!({"alg": "HS256", "typ": "at+jwt", "kid": "a"}),
            Error::DisallowedAlgorithm,
        ),
        (
            json!({"alg": "RS256", "typ": "at+jwt", "kid": "a"}),
            Error::DisallowedAlgorithm,
        ),
        (json!({"alg": "ES256", "typ": "at+jwt"}), Error::Malformed),
    ] {
        let t = format!("{}.{}.{}", b64(header.clone()), parts[1], parts[2]);
        assert_eq!(v.verify(&t).await.unwrap_err(), expected, "{header}");
    }
    // an allowlist without ES256 refuses the issuer's own tokens
    let strict = Verifier::builder(server.uri())
        .audience(AUD)
        .algorithms(&[Algorithm::RS256])
        .build()
        .await
        .unwrap();
    assert_eq!(
        strict.verify(&good).await.unwrap_err(),
        Error::DisallowedAlgorithm
    );
    // garbage is malformed, never a panic
    for junk in [
        "",
        ".",
        "..",
        "a.b.c",
        "not a token",
        "é.é.é",
        &"x".repeat(20_000),
        &format!("{good}.extra"),
    ] {
        assert_eq!(
            v.verify(junk).await.unwrap_err(),
            Error::Malformed,
            "{junk:.20}"
        );
    }
}

#[tokio::test]
async fn keys_are_fetched_once_and_an_unknown_kid_refetches_once_per_ten_seconds_for_everyone() {
    let a = key("a");
    let server = issuer(&[&a]).await;
    let v = verifier(&server).await;
    let iss = server.uri();
    for _ in 0..50 {
        v.verify(&token(&iss, &a, json!({}))).await.unwrap();
    }
    assert_eq!(jwks_fetches(&server).await, 1, "the cached keys serve");

    // 20 requests with a kid nobody publishes at once: one refetch between them
    let stranger = key("made-up");
    let t = token(&iss, &stranger, json!({}));
    let attempts = (0..20).map(|_| v.verify(&t));
    for result in futures_join(attempts).await {
        assert_eq!(result.unwrap_err(), Error::UnknownKid);
    }
    assert_eq!(jwks_fetches(&server).await, 2);
    // other unknown kids within 10 s: no fetch at all
    for n in 0..10 {
        let t = token(&iss, &key(&format!("k{n}")), json!({}));
        assert_eq!(v.verify(&t).await.unwrap_err(), Error::UnknownKid);
    }
    assert_eq!(jwks_fetches(&server).await, 2);
    assert_eq!(
        v.verify_cached(&token(&iss, &a, json!({}))).unwrap().kid,
        "a"
    );
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::new();
    // polled together on one task: they contend for the same single flight
    let joined = async {
        let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
        let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in pinned.iter_mut().enumerate() {
                if results[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(r) => results[i] = Some(r),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        results.into_iter().map(Option::unwrap).collect::<Vec<_>>()
    };
    out.extend(joined.await);
    out
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_an_unpublished_one_dropped_without_a_restart() {
    let (a, b) = (key("a"), key("b"));
    let server = issuer(&[&a]).await;
    let v = verifier(&server).await;
    let iss = server.uri();
    let old = token(&iss, &a, json!({}));
    v.verify(&old).await.unwrap();
    // the issuer rotates: b signs, a is no longer published
    server.reset().await;
    mount_discovery(&server).await;
    mount_jwks(&server, &[&b], "\"v2\"").await;
    let new = token(&iss, &b, json!({}));
    assert_eq!(v.verify(&new).await.unwrap().kid, "b");
    assert_eq!(v.verify(&old).await.unwrap_err(), Error::UnknownKid);
    assert_eq!(v.kids(), ["b"]);
}

#[tokio::test]
async fn keys_are_revalidated_with_their_etag_and_served_stale_while_the_issuer_is_down() {
    let a = key("a");
    let server = issuer(&[]).await;
    server.reset().await;
    mount_discovery(&server).await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("cache-control", "max-age=60"))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_jwks(&server, &[&a], "\"v1\"").await;
    let v = verifier(&server).await;
    assert_eq!(v.refresh_keys().await.unwrap(), Refresh::Unchanged);
    let t = token(&server.uri(), &a, json!({}));
    v.verify(&t).await.unwrap();

    // the issuer fails (404 for everything): the keys held keep verifying
    server.reset().await;
    assert!(v.refresh_keys().await.is_err());
    v.verify(&t).await.unwrap();
}

async fn mount_feed(server: &MockServer, after: Option<&str>, status: u16, body: Value) {
    let mock = Mock::given(method("GET")).and(path("/feed"));
    let mock = match after {
        Some(cursor) => mock.and(query_param("after", cursor)),
        None => mock.and(query_param_is_missing("after")),
    };
    mock.respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

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
    mount_feed(&server, None, 200, json!({"events": [], "next": "c0"})).await;
    mount_feed(
        &server,
        Some("c0"),
        200,
        json!({"events": [], "next": "c0"}),
    )
    .await;
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

#[cfg(feature = "actix")]
#[actix_web::test]
async fn the_actix_extractor_answers_401_with_a_bearer_challenge() {
    use actix_web::{test, web, App, HttpResponse};
    use tessera_verify::actix::BearerToken;

    let a = key("a");
    let server = issuer(&[&a]).await;
    let v = web::Data::new(verifier(&server).await);
    let app = test::init_service(App::new().app_data(v).route(
        "/orders",
        web::get().to(|t: BearerToken| async move { HttpResponse::Ok().body(t.0.sub) }),
    ))
    .await;
    let call = |auth: Option<String>| {
        let mut req = test::TestRequest::get().uri("/orders");
        if let Some(auth) = auth {
            req = req.insert_header(("authorization", auth));
        }
        req.to_request()
    };
    let none = test::call_service(&app, call(None)).await;
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers().get("www-authenticate").unwrap(), "Bearer");
    let bad = test::call_service(&app, call(Some("Bearer nope".into()))).await;
    assert_eq!(bad.status(), 401);
    assert!(bad
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let good = token(&server.uri(), &a, json!({}));
    let ok = test::call_service(&app, call(Some(format!("Bearer {good}")))).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(test::read_body(ok).await, "user-1");
}

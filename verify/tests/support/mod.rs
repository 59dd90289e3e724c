//! A mock issuer (wiremock) and tokens signed like tessera's, for the crate's tests.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, ES256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{json, Value};
use tessera_verify::Verifier;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const AUD: &str = "https://api.example.com";

pub struct Key {
    pub kid: String,
    pub private: Jwk,
    pub public: Jwk,
}

pub fn key(kid: &str) -> Key {
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

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token signed by `key`, with the claims of a tessera access token and `changes`.
pub fn token(issuer: &str, key: &Key, changes: Value) -> String {
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

pub fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| Value::Object(k.public.as_ref().clone())).collect::<Vec<_>>() })
}

pub async fn issuer(keys: &[&Key]) -> MockServer {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_jwks(&server, keys, "\"v1\"").await;
    server
}

pub async fn mount_discovery(server: &MockServer) {
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

pub async fn mount_jwks(server: &MockServer, keys: &[&Key], etag: &str) {
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

pub async fn jwks_fetches(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap();
    requests.iter().filter(|r| r.url.path() == "/jwks").count()
}

pub async fn verifier(server: &MockServer) -> Verifier {
    Verifier::builder(server.uri())
        .audience(AUD)
        .build()
        .await
        .unwrap()
}

pub async fn futures_join<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
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

pub async fn mount_feed(server: &MockServer, after: Option<&str>, status: u16, body: Value) {
    let mock = Mock::given(method("GET")).and(path("/feed"));
    let mock = match after {
        Some(cursor) => mock.and(query_param("after", cursor)),
        None => mock.and(query_param_is_missing("after")),
    };
    mock.respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(server)
        .await;
}

/// A feed that is caught up: empty from the start and at cursor `c0`.
pub async fn mount_caught_up_feed(server: &MockServer) {
    let empty = serde_json::json!({"events": [], "next": "c0"});
    mount_feed(server, None, 200, empty.clone()).await;
    mount_feed(server, Some("c0"), 200, empty).await;
}

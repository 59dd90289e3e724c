//! The verifier against a mock issuer: every check, the key cache's fetches (counted),
//! ETag revalidation, stale keys, dropped keys, and the actix extractor.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod support;

use serde_json::{json, Value};
use support::*;
use tessera_verify::{Algorithm, Error, Refresh, Verifier};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

#[tokio::test]
async fn an_oversized_jwks_is_refused_without_reading_it_all() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    // a valid JWKS padded past the 4 MiB the crate reads
    let mut body = jwks(&[&key("a")]);
    body["padding"] = json!("x".repeat(5 * 1024 * 1024));
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let refused = match Verifier::builder(server.uri()).audience(AUD).build().await {
        Ok(_) => panic!("a 5 MiB JWKS was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("larger than"), "{refused}");
}

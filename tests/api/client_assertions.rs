//! book § DPoP and PAR: `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core
//! §9) at the token and introspection endpoints, keys registered inline or read from a
//! `jwks_uri` (cached, read again for an unknown `kid`), and every check an assertion
//! takes refused one at a time with `401 invalid_client`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use josekit::jws::JwsHeader;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera::clock::FixedClock;

use crate::helpers::dpop::{keyed_dpop_token, unix_now, ClientKey, ISSUER};
use crate::helpers::{spawn_with, try_spawn_on, Fetch, TestApp, TestDb};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A `private_key_jwt` machine client with `keys` (a `jwks` or `jwks_uri` member); its id.
async fn keyed_client(app: &TestApp, keys: Value) -> String {
    let mut body = json!({
        "name": "signed", "grant_types": ["client_credentials"], "scopes": ["reports"],
        "token_endpoint_auth_method": "private_key_jwt",
    });
    body.as_object_mut()
        .unwrap()
        .extend(keys.as_object().unwrap().clone());
    let (status, created) = app
        .admin_json(reqwest::Method::POST, "/admin/clients", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    created["client_id"].as_str().unwrap().to_owned()
}

async fn with_assertion(
    app: &TestApp,
    path: &str,
    assertion: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    app.http.post(app.url(path)).form(&form).fetch().await
}

async fn token_with(app: &TestApp, assertion: &str) -> reqwest::Response {
    with_assertion(
        app,
        "/oauth2/token",
        assertion,
        &[("grant_type", "client_credentials")],
    )
    .await
}

#[tokio::test]
async fn a_client_authenticates_with_an_assertion_signed_by_its_registered_key() {
    let app = spawn_with(&[]).await;
    let key = ClientKey::es256();
    let id = keyed_client(&app, json!({ "jwks": key.jwks("k1") })).await;
    let answer = token_with(&app, &key.assertion(&id, "k1")).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let token = answer.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // the same at introspection, and the token endpoint URL is an accepted audience too
    let now = unix_now();
    let to_endpoint = key.assertion_with(
        "k1",
        json!({
            "iss": id, "sub": id, "aud": format!("{ISSUER}/oauth2/token"), "exp": now + 60,
            "jti": "introspect-1",
        }),
    );
    let status: Value = with_assertion(
        &app,
        "/oauth2/introspect",
        &to_endpoint,
        &[("token", &token)],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(status["active"], true, "{status}");
    // client_id in the form may name the client too, and must agree
    let named = with_assertion(
        &app,
        "/oauth2/token",
        &key.assertion(&id, "k1"),
        &[("grant_type", "client_credentials"), ("client_id", &id)],
    )
    .await;
    assert_eq!(named.status(), StatusCode::OK);
    let other = with_assertion(
        &app,
        "/oauth2/token",
        &key.assertion(&id, "k1"),
        &[("grant_type", "client_credentials"), ("client_id", "spa")],
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_broken_assertion_is_invalid_client() {
    let app = spawn_with(&[]).await;
    let key = ClientKey::es256();
    let id = keyed_client(&app, json!({ "jwks": key.jwks("k1") })).await;
    let now = unix_now();
    let claims = |changes: Value| {
        let mut claims = json!({
            "iss": id, "sub": id, "aud": ISSUER, "iat": now, "exp": now + 60,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let stranger = ClientKey::es256();
    let hmac = {
        let signer = josekit::jws::HS256
            .signer_from_bytes(b"a shared secret of 32 bytes!!!!!")
            .unwrap();
        let mut header = JwsHeader::new();
        header.set_key_id("k1");
        let Value::Object(map) = claims(json!({})) else {
            unreachable!()
        };
        josekit::jwt::encode_with_signer(
            &josekit::jwt::JwtPayload::from_map(map).unwrap(),
            &header,
            &signer,
        )
        .unwrap()
    };
    let cases = [
        (
            "wrong aud",
            key.assertion_with("k1", claims(json!({ "aud": "https://elsewhere.example" }))),
        ),
        (
            "expired",
            key.assertion_with("k1", claims(json!({ "exp": now - 120 }))),
        ),
        (
            "exp too far ahead",
            key.assertion_with("k1", claims(json!({ "exp": now + 3600 }))),
        ),
        (
            "no exp",
            key.assertion_with("k1", claims(json!({ "exp": null }))),
        ),
        (
            "no jti",
            key.assertion_with("k1", claims(json!({ "jti": null }))),
        ),
        (
            "iss is not the client",
            key.assertion_with("k1", claims(json!({ "iss": "spa" }))),
        ),
        ("unknown kid", key.assertion_with("k9", claims(json!({})))),
        (
            "another key",
            stranger.assertion_with("k1", claims(json!({}))),
        ),
        ("HMAC", hmac),
    ];
    for (case, assertion) in cases {
        let answer = token_with(&app, &assertion).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(
            answer.json::<Value>().await.unwrap()["error"],
            "invalid_client",
            "{case}"
        );
    }
    // a jti is used once
    let once = key.assertion(&id, "k1");
    assert_eq!(token_with(&app, &once).await.status(), StatusCode::OK);
    assert_eq!(
        token_with(&app, &once).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // the wrong assertion type, or an assertion with a secret: invalid_request
    let wrong_type = app
        .http
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:saml"),
            ("client_assertion", &key.assertion(&id, "k1")),
        ])
        .fetch()
        .await;
    assert_eq!(wrong_type.status(), StatusCode::BAD_REQUEST);
    let both = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some("guess"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &key.assertion(&id, "k1")),
        ])
        .fetch()
        .await;
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    // a secret-holding client cannot switch to assertions, nor a keyed one to secrets
    let (secret_id, secret) = app
        .admin_client(json!({ "name": "s", "grant_types": ["client_credentials"] }))
        .await;
    assert_eq!(
        token_with(&app, &key.assertion(&secret_id, "k1"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let by_secret = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await;
    assert_eq!(by_secret.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn keys_at_a_jwks_uri_are_cached_and_read_again_for_a_new_kid() {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(Arc::new(TestDb::new().await), &[], clock.clone())
        .await
        .unwrap();
    let first = ClientKey::es256();
    let published = Arc::new(Mutex::new(first.jwks("k1")));
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let uri = serve_jwks(published.clone(), reads.clone()).await;
    let id = keyed_client(&app, json!({ "jwks_uri": uri })).await;
    for _ in 0..3 {
        assert_eq!(
            token_with(&app, &first.assertion(&id, "k1")).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        reads.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the keys are cached"
    );
    // the client rotates its key: an unknown kid reads the set again (at most once a minute)
    let second = ClientKey::es256();
    *published.lock().unwrap() = second.jwks("k2");
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        token_with(&app, &second.assertion(&id, "k2"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    // a key the client no longer publishes stops working once the set is read again
    assert_eq!(
        token_with(&app, &first.assertion(&id, "k1")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_client_definition_with_keys_is_checked() {
    let app = spawn_with(&[]).await;
    let key = ClientKey::es256();
    let mut private = key.jwks("k1");
    private["keys"][0] = Value::Object(key.private.as_ref().clone());
    for (case, body) in [
        (
            "no keys",
            json!({ "token_endpoint_auth_method": "private_key_jwt" }),
        ),
        (
            "a private key",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": private }),
        ),
        (
            "both",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks("k1"), "jwks_uri": "https://keys.example/jwks" }),
        ),
        ("keys without the method", json!({ "jwks": key.jwks("k1") })),
        (
            "http jwks_uri",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example/jwks" }),
        ),
        (
            "a symmetric key",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } }),
        ),
    ] {
        let mut full = json!({ "name": "x", "grant_types": ["client_credentials"] });
        full.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let (status, answer) = app
            .admin_json(reqwest::Method::POST, "/admin/clients", Some(full))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {answer}");
    }
}

/// A loopback JWKS endpoint serving `published` with `Cache-Control: max-age=300`,
/// counting its reads; its URL.
async fn serve_jwks(
    published: Arc<Mutex<Value>>,
    reads: Arc<std::sync::atomic::AtomicUsize>,
) -> String {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/jwks",
        listener.local_addr().unwrap().port()
    );
    let server = HttpServer::new(move || {
        let (published, reads) = (published.clone(), reads.clone());
        App::new().route(
            "/jwks",
            web::get().to(move || {
                let (published, reads) = (published.clone(), reads.clone());
                async move {
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let body = published.lock().unwrap().clone();
                    HttpResponse::Ok()
                        .insert_header(("Cache-Control", "max-age=300"))
                        .json(body)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

#[tokio::test]
async fn the_cli_makes_a_keyed_fapi2_client_and_revocation_takes_its_assertions() {
    let app = spawn_with(&[]).await;
    let key = ClientKey::es256();
    let file = std::env::temp_dir().join(format!("jwks-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, key.jwks("cli-1").to_string()).unwrap();
    let env = crate::helpers::cli_env(&app.db);
    let created = crate::helpers::cli_json(
        &[
            "clients",
            "create",
            "--name",
            "cli bank",
            "--grant",
            "client_credentials",
            "--token-endpoint-auth-method",
            "private_key_jwt",
            "--jwks-file",
            file.to_str().unwrap(),
            "--profile",
            "fapi2",
        ],
        &env,
    );
    std::fs::remove_file(&file).unwrap();
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["profile"], "fapi2");
    assert_eq!(created["jwks"], key.jwks("cli-1"));
    let id = created["client_id"].as_str().unwrap();
    // the profile binds every token: a proof is required, and revocation takes the assertion
    let answer = keyed_dpop_token(&app, &key, id, "cli-1", &ClientKey::es256()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let token = answer.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = with_assertion(
        &app,
        "/oauth2/revoke",
        &key.assertion(id, "cli-1"),
        &[("token", &token)],
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let claims =
        json!({ "iss": id, "sub": id, "aud": ISSUER, "exp": unix_now() + 60, "jti": "once" });
    let once = key.assertion_with("cli-1", claims);
    let form = [("token", token.as_str())];
    let revoke = || with_assertion(&app, "/oauth2/revoke", &once, &form);
    assert_eq!(revoke().await.status(), StatusCode::OK);
    assert_eq!(
        revoke().await.status(),
        StatusCode::UNAUTHORIZED,
        "a jti is used once"
    );
    let (rotated, _) = app
        .admin_json(
            reqwest::Method::POST,
            &format!("/admin/clients/{id}/secret"),
            None,
        )
        .await;
    assert_eq!(
        rotated,
        StatusCode::CONFLICT,
        "a keyed client has no secret to rotate"
    );
}

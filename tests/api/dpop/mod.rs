//! book § DPoP and PAR: sender-constrained tokens (RFC 9449) at the token endpoint, with
//! every check a proof takes refused one at a time, the refresh binding of public
//! clients, the server nonce, and (in `resources`) the presentation at userinfo, the
//! account API and introspection.

mod resources;

use josekit::jws::JwsHeader;
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};

use crate::helpers::dpop::{proof_claims, unix_now, ClientKey};
use crate::helpers::{backends, claims, spawn_backend, spawn_with, Backend, Fetch, TestApp};

const SPA_ORIGIN: &str = "https://app.example.com";

/// A `client_credentials` token request of `client`, with `proofs` as DPoP headers.
async fn machine_token(
    app: &TestApp,
    client: &(String, Option<String>),
    proofs: &[String],
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&client.0, client.1.as_deref())
        .form(&[("grant_type", "client_credentials")]);
    for proof in proofs {
        request = request.header("DPoP", proof);
    }
    request.fetch().await
}

/// A password grant of the public `spa` client for a new user, with a proof by `key`.
async fn spa_tokens(app: &TestApp, email: &str, key: &ClientKey) -> Value {
    app.user(email).await;
    let answer = app
        .http
        .post(app.url("/oauth2/token"))
        .header("DPoP", key.proof("POST", "/oauth2/token", None))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", email),
            ("password", crate::helpers::STRONG_PASSWORD),
            ("scope", "openid email"),
        ])
        .fetch()
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

/// A refresh of the `spa` client's `token`, with `proof` if any.
async fn refresh_with(app: &TestApp, token: &str, proof: Option<String>) -> reqwest::Response {
    let mut request = app.http.post(app.url("/oauth2/token")).form(&[
        ("grant_type", "refresh_token"),
        ("client_id", "spa"),
        ("refresh_token", token),
    ]);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.fetch().await
}

async fn refused_with(answer: reqwest::Response, error: &str) -> String {
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body["error_description"].as_str().unwrap().to_owned()
}

#[apply(backends)]
#[tokio::test]
async fn a_proof_binds_the_access_token_to_its_key(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let machine = app.machine_client(&[], &["reports"]).await;
    let key = ClientKey::es256();
    let answer = machine_token(&app, &machine, &[key.proof("POST", "/oauth2/token", None)]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["cnf"], json!({ "jkt": key.jkt() }));
    // introspection says so (RFC 9449 §6.2)
    let status = app.introspect_as(&machine, token).await;
    assert_eq!(status["active"], true);
    assert_eq!(status["token_type"], "DPoP");
    assert_eq!(status["cnf"]["jkt"], key.jkt());
    // without a proof the token is a bearer token, as before
    let plain: Value = machine_token(&app, &machine, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plain["token_type"], "Bearer");
    assert!(claims(plain["access_token"].as_str().unwrap())
        .get("cnf")
        .is_none());
}

#[tokio::test]
async fn every_broken_proof_is_refused_with_invalid_dpop_proof() {
    let app = spawn_with(&[]).await;
    let machine = app.machine_client(&[], &["reports"]).await;
    let key = ClientKey::es256();
    let good = || proof_claims("POST", "/oauth2/token", None);
    let with = |name: &str, value: Value| {
        let mut claims = good();
        claims[name] = value;
        key.sign(&key.proof_header(), claims)
    };
    let mut without_typ = key.proof_header();
    without_typ.set_token_type("JWT");
    let mut private_in_header = key.proof_header();
    private_in_header.set_jwk(key.private.clone());
    let mut no_key = JwsHeader::new();
    no_key.set_token_type("dpop+jwt");
    let hmac = {
        let signer = josekit::jws::HS256
            .signer_from_bytes(b"a shared secret of 32 bytes!!!!!")
            .unwrap();
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(key.public.clone());
        let Value::Object(map) = good() else {
            unreachable!()
        };
        let payload = josekit::jwt::JwtPayload::from_map(map).unwrap();
        josekit::jwt::encode_with_signer(&payload, &header, &signer).unwrap()
    };
    let none = {
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(key.public.clone());
        header.set_algorithm("none");
        let Value::Object(map) = good() else {
            unreachable!()
        };
        let payload = josekit::jwt::JwtPayload::from_map(map).unwrap();
        let encode =
            |v: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v);
        format!(
            "{}.{}.",
            encode(header.to_string().as_bytes()),
            encode(payload.to_string().as_bytes())
        )
    };
    let other = ClientKey::es256();
    let mut signed_by_another = key.proof_header();
    signed_by_another.set_jwk(other.public.clone());
    let cases: Vec<(&str, String, &str)> = vec![
        ("wrong htm", with("htm", json!("GET")), "htm"),
        (
            "wrong htu",
            with("htu", json!("http://127.0.0.1:8080/oauth2/par")),
            "htu",
        ),
        (
            "other host",
            with("htu", json!("https://evil.example/oauth2/token")),
            "htu",
        ),
        ("stale iat", with("iat", json!(unix_now() - 300)), "iat"),
        ("future iat", with("iat", json!(unix_now() + 300)), "iat"),
        (
            "no jti",
            {
                let mut c = good();
                c.as_object_mut().unwrap().remove("jti");
                key.sign(&key.proof_header(), c)
            },
            "jti",
        ),
        ("typ", key.sign(&without_typ, good()), "typ"),
        (
            "private key in the header",
            key.sign(&private_in_header, good()),
            "public key",
        ),
        (
            "no key in the header",
            key.sign(&no_key, good()),
            "public key",
        ),
        (
            "signed by another key",
            key.sign(&signed_by_another, good()),
            "signature",
        ),
        ("HMAC", hmac, "algorithm"),
        ("alg none", none, "algorithm"),
        ("not a JWT", "not-a-proof".into(), "well-formed"),
    ];
    for (case, proof, says) in cases {
        let answer = machine_token(&app, &machine, &[proof]).await;
        let description = refused_with(answer, "invalid_dpop_proof").await;
        assert!(description.contains(says), "{case}: {description}");
    }
    // two proofs at once
    let two = [
        key.proof("POST", "/oauth2/token", None),
        key.proof("POST", "/oauth2/token", None),
    ];
    refused_with(
        machine_token(&app, &machine, &two).await,
        "invalid_dpop_proof",
    )
    .await;
    // a proof replayed: its jti was seen
    let once = key.proof("POST", "/oauth2/token", None);
    assert_eq!(
        machine_token(&app, &machine, std::slice::from_ref(&once))
            .await
            .status(),
        StatusCode::OK
    );
    let description = refused_with(
        machine_token(&app, &machine, &[once]).await,
        "invalid_dpop_proof",
    )
    .await;
    assert!(description.contains("used before"), "{description}");
}

#[apply(backends)]
#[tokio::test]
async fn a_public_clients_refresh_token_needs_a_proof_by_the_same_key(backend: Backend) {
    let app = spawn_backend(backend, &[("cors_origins", SPA_ORIGIN)]).await;
    let key = ClientKey::ed25519();
    let tokens = spa_tokens(&app, "dee@example.com", &key).await;
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt()
    );
    let refresh = tokens["refresh_token"].as_str().unwrap();
    // a thief with the refresh token but not the key gets nothing, and spends nothing
    let refused = refresh_with(&app, refresh, None).await;
    assert!(refused_with(refused, "invalid_dpop_proof")
        .await
        .contains("bound"));
    let thief = ClientKey::es256();
    let refused = refresh_with(
        &app,
        refresh,
        Some(thief.proof("POST", "/oauth2/token", None)),
    )
    .await;
    refused_with(refused, "invalid_dpop_proof").await;
    // the holder refreshes; the new access token is bound to the key again
    let answer = refresh_with(
        &app,
        refresh,
        Some(key.proof("POST", "/oauth2/token", None)),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let rotated: Value = answer.json().await.unwrap();
    assert_eq!(rotated["token_type"], "DPoP");
    assert_eq!(
        claims(rotated["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt()
    );
    // nor can the cookie API refresh a bound session
    let cookie = format!("tessera_rt={}", rotated["refresh_token"].as_str().unwrap());
    let spa = app.spa_refresh(SPA_ORIGIN, &cookie).await;
    assert_eq!(spa.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_registered_for_dpop_must_send_a_proof() {
    let app = spawn_with(&[]).await;
    let (id, secret) = app
        .admin_client(json!({
            "name": "bound", "grant_types": ["client_credentials"], "scopes": ["reports"],
            "dpop_bound_access_tokens": true,
        }))
        .await;
    let machine = (id, Some(secret));
    let description = refused_with(
        machine_token(&app, &machine, &[]).await,
        "invalid_dpop_proof",
    )
    .await;
    assert!(description.contains("DPoP"), "{description}");
    let key = ClientKey::es256();
    let answer = machine_token(&app, &machine, &[key.proof("POST", "/oauth2/token", None)]).await;
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_nonces_on_a_proof_must_carry_the_servers_nonce() {
    let app = spawn_with(&[("dpop_nonce", "true")]).await;
    let machine = app.machine_client(&[], &["reports"]).await;
    let key = ClientKey::es256();
    let answer = machine_token(&app, &machine, &[key.proof("POST", "/oauth2/token", None)]).await;
    let nonce = answer.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    refused_with(answer, "use_dpop_nonce").await;
    let mut claims = proof_claims("POST", "/oauth2/token", None);
    claims["nonce"] = json!("made-up");
    let answer = machine_token(&app, &machine, &[key.sign(&key.proof_header(), claims)]).await;
    refused_with(answer, "use_dpop_nonce").await;
    let mut claims = proof_claims("POST", "/oauth2/token", None);
    claims["nonce"] = json!(nonce);
    let answer = machine_token(&app, &machine, &[key.sign(&key.proof_header(), claims)]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers().contains_key("dpop-nonce"));
}

#[tokio::test]
async fn discovery_lists_the_proof_algorithms() {
    let app = spawn_with(&[]).await;
    let discovery = app.discovery().await;
    assert_eq!(
        discovery["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "PS256", "RS256"])
    );
}

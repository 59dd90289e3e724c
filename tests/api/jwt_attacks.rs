//! Issue 6: forged and tampered access tokens, each refused by introspection and userinfo.
//! Every attack starts from a real user token, and a control (the same claims re-signed
//! with tessera's own key) is accepted, so a refusal means the check worked, not that the
//! harness was broken.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::JwsHeader;
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Map, Value};
use tessera::crypto::SigningAlg;

use crate::helpers::{backends, spawn_backend, Backend, Fetch, TestApp, STRONG_PASSWORD};

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// Signs `claims` with tessera's active ES256 key, with the header fields given.
fn sign_with_real_key(app: &TestApp, header: &Map<String, Value>, claims: &Value) -> String {
    let active = app.state.keyring.signer(SigningAlg::Es256).unwrap();
    let header = JwsHeader::from_map(header.clone()).unwrap();
    let payload = serde_json::to_vec(claims).unwrap();
    josekit::jws::serialize_compact(&payload, &header, active.signer.as_ref()).unwrap()
}

struct Verdicts {
    introspection_active: bool,
    userinfo: StatusCode,
}

async fn verdicts(app: &TestApp, client: &(String, Option<String>), token: &str) -> Verdicts {
    let introspection = app.introspect_as(client, token).await;
    let userinfo = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(token)
        .fetch()
        .await
        .status();
    Verdicts {
        introspection_active: introspection["active"] == true,
        userinfo,
    }
}

/// A tiny HTTP listener that counts connections: `jku`/`x5u` must never be fetched.
async fn fetch_trap() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, hits)
}

#[apply(backends)]
#[tokio::test]
async fn forged_and_tampered_access_tokens_are_refused_by_introspection_and_userinfo(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    app.user("target@example.com").await;
    let grant: Value = app
        .password_grant("target@example.com", STRONG_PASSWORD, "openid email")
        .await
        .json()
        .await
        .unwrap();
    let real = grant["access_token"].as_str().unwrap().to_owned();
    let id_token = grant["id_token"].as_str().unwrap().to_owned();
    let (id, secret) = app.client(&["client_credentials"], false, false).await;
    let introspector = (id, secret);
    let header = part(&real, 0).as_object().unwrap().clone();
    let claims = part(&real, 1);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let now = claims["iat"].as_i64().unwrap();

    // controls: the real token and the same claims re-signed are accepted
    for token in [real.clone(), sign_with_real_key(&app, &header, &claims)] {
        let v = verdicts(&app, &introspector, &token).await;
        assert!(v.introspection_active, "control refused");
        assert_eq!(v.userinfo, StatusCode::OK, "control refused by userinfo");
    }

    let (trap_url, trap_hits) = fetch_trap().await;
    let attacker = josekit::jws::ES256.generate_key_pair().unwrap();
    let attacker_jwk: Value =
        serde_json::from_str(&attacker.to_jwk_public_key().to_string()).unwrap();
    let attacker_signer = josekit::jws::ES256
        .signer_from_der(attacker.to_der_private_key())
        .unwrap();
    let sign_as_attacker = |header: Value| {
        let header = JwsHeader::from_map(header.as_object().unwrap().clone()).unwrap();
        josekit::jws::serialize_compact(
            &serde_json::to_vec(&claims).unwrap(),
            &header,
            &attacker_signer,
        )
        .unwrap()
    };
    let public_jwk = app
        .state
        .keyring
        .keys()
        .into_iter()
        .find(|k| k.kid.as_str() == kid)
        .unwrap()
        .public_jwk;
    let hs256_with_public_key = {
        let secret = serde_json::to_vec(&public_jwk).unwrap();
        let signer = josekit::jws::HS256.signer_from_bytes(&secret).unwrap();
        let header = JwsHeader::from_map(
            json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        josekit::jws::serialize_compact(&serde_json::to_vec(&claims).unwrap(), &header, &signer)
            .unwrap()
    };
    let with_claims = |change: &dyn Fn(&mut Value)| {
        let mut changed = claims.clone();
        change(&mut changed);
        sign_with_real_key(&app, &header, &changed)
    };
    let with_header = |change: &dyn Fn(&mut Map<String, Value>)| {
        let mut changed = header.clone();
        change(&mut changed);
        sign_with_real_key(&app, &changed, &claims)
    };
    let (h, p, s) = {
        let mut parts = real.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let mut altered_claims = claims.clone();
    altered_claims["scope"] = json!("openid email admin");

    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
                p
            ),
        ),
        (
            "alg none, uppercase",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "NONE", "typ": "at+jwt", "kid": kid})),
                p
            ),
        ),
        ("HS256 keyed with the public key", hs256_with_public_key),
        (
            "kid is a path",
            sign_as_attacker(
                json!({"alg": "ES256", "typ": "at+jwt", "kid": "../../../../dev/null"}),
            ),
        ),
        (
            "kid is SQL",
            sign_as_attacker(
                json!({"alg": "ES256", "typ": "at+jwt", "kid": "x' UNION SELECT 'key' --"}),
            ),
        ),
        (
            "unknown kid",
            sign_as_attacker(json!({"alg": "ES256", "typ": "at+jwt", "kid": "no-such-key"})),
        ),
        (
            "no kid",
            sign_as_attacker(json!({"alg": "ES256", "typ": "at+jwt"})),
        ),
        (
            "jku to the attacker's keys",
            sign_as_attacker(
                json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker-key", "jku": trap_url}),
            ),
        ),
        (
            "x5u to the attacker's cert",
            sign_as_attacker(
                json!({"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "x5u": trap_url}),
            ),
        ),
        (
            "embedded jwk",
            sign_as_attacker(json!({"alg": "ES256", "typ": "at+jwt", "jwk": attacker_jwk})),
        ),
        (
            "embedded jwk with the real kid",
            sign_as_attacker(
                json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "jwk": attacker_jwk}),
            ),
        ),
        ("ID token as access token", id_token.clone()),
        (
            "typ JWT",
            with_header(&|h| {
                h.insert("typ".into(), json!("JWT"));
            }),
        ),
        (
            "no typ",
            with_header(&|h| {
                h.remove("typ");
            }),
        ),
        (
            "expired",
            with_claims(&|c| {
                c["exp"] = json!(now - 3600);
                c["iat"] = json!(now - 4600);
                c["nbf"] = json!(now - 4600);
            }),
        ),
        (
            "not yet valid",
            with_claims(&|c| {
                c["nbf"] = json!(now + 3600);
            }),
        ),
        (
            "wrong iss",
            with_claims(&|c| {
                c["iss"] = json!("https://evil.example");
            }),
        ),
        (
            "iss with a trailing slash",
            with_claims(&|c| {
                c["iss"] = json!("http://127.0.0.1:8080/");
            }),
        ),
        (
            "no aud",
            with_claims(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        (
            "empty aud",
            with_claims(&|c| {
                c["aud"] = json!([]);
            }),
        ),
        (
            "empty string aud",
            with_claims(&|c| {
                c["aud"] = json!("");
            }),
        ),
        ("signature stripped", format!("{h}.{p}.")),
        (
            "signature truncated",
            format!("{h}.{p}.{}", &s[..s.len() - 6]),
        ),
        (
            "signature of another token",
            format!("{h}.{p}.{}", id_token.rsplit('.').next().unwrap()),
        ),
        (
            "payload altered",
            format!("{h}.{}.{s}", b64(&altered_claims)),
        ),
        ("two segments", format!("{h}.{p}")),
        ("four segments", format!("{h}.{p}.{s}.{s}")),
        ("not base64", format!("{h}.{p}.!!!!")),
        ("huge", format!("{h}.{}.{s}", "A".repeat(9_000))),
    ];
    for (name, token) in &attacks {
        let v = verdicts(&app, &introspector, token).await;
        assert!(!v.introspection_active, "{name}: introspection said active");
        assert_eq!(
            v.userinfo,
            StatusCode::UNAUTHORIZED,
            "{name}: userinfo answered"
        );
    }
    assert_eq!(
        trap_hits.load(Ordering::SeqCst),
        0,
        "a jku/x5u URL was fetched"
    );

    // wrong audience: a token meant for another API is not shown to this resource server
    let elsewhere = with_claims(&|c| {
        c["aud"] = json!(["https://other-api.example.com"]);
    });
    assert_eq!(
        app.introspect_as(&introspector, &elsewhere).await["active"],
        false
    );
}

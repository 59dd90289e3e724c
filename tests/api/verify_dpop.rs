//! book § Verifying tokens in other services: `tessera-verify` with DPoP-bound tokens
//! (RFC 9449 §7). A downstream service accepts such a token only from the caller holding
//! its key: `verify_dpop` checks the proof for the request (method, URL, `ath`, key,
//! replay), `verify` refuses the token as a bearer token, and the actix extractor does
//! both by the `Authorization` scheme.

use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use reqwest::StatusCode;
use serde_json::Value;
use tessera::clock::FixedClock;
use tessera_verify::actix::BearerToken;
use tessera_verify::dpop::ProofError;
use tessera_verify::{Error, Verifier};

use crate::helpers::dpop::ClientKey;
use crate::helpers::{Backend, Fetch, TestApp};
use crate::verify::issuer_behind_proxy;

/// A DPoP-bound `client_credentials` token for the default audience, by `key`.
async fn bound_token(app: &TestApp, issuer: &str, key: &ClientKey) -> String {
    let (id, secret) = app.machine_client(&[], &["orders"]).await;
    let answer: Value = app
        .http
        .post(format!("{issuer}/oauth2/token"))
        .basic_auth(id, secret)
        .header(
            "DPoP",
            key.proof_at("POST", &format!("{issuer}/oauth2/token"), None),
        )
        .form(&[("grant_type", "client_credentials")])
        .fetch_json()
        .await;
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    answer["access_token"].as_str().unwrap().to_owned()
}

async fn verifier(app: &TestApp, issuer: &str) -> Verifier {
    Verifier::builder(issuer)
        .audience(app.state.settings.default_audience.clone())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_service_accepts_a_bound_token_only_from_the_key_holder() {
    let (app, _proxy, issuer) =
        issuer_behind_proxy(Backend::Embedded, Arc::new(FixedClock::starting_now())).await;
    let key = ClientKey::es256();
    let token = bound_token(&app, &issuer, &key).await;
    let v = verifier(&app, &issuer).await;
    let url = "https://orders.example/orders";

    assert_eq!(v.verify(&token).await.unwrap_err(), Error::DpopBound);
    let proof = key.proof_at("GET", url, Some(&token));
    let claims = v.verify_dpop(&token, &proof, "GET", url).await.unwrap();
    assert_eq!(claims.cnf.unwrap().jkt, key.jkt());
    let refusal = |e: Result<tessera_verify::Claims, Error>| e.unwrap_err();
    assert_eq!(
        refusal(v.verify_dpop(&token, &proof, "GET", url).await),
        Error::Dpop(ProofError::Replayed)
    );
    let post = key.proof_at("POST", url, Some(&token));
    assert_eq!(
        refusal(v.verify_dpop(&token, &post, "GET", url).await),
        Error::Dpop(ProofError::WrongMethod)
    );
    let elsewhere = key.proof_at("GET", "https://other.example/orders", Some(&token));
    assert_eq!(
        refusal(v.verify_dpop(&token, &elsewhere, "GET", url).await),
        Error::Dpop(ProofError::WrongUrl)
    );
    let thief = ClientKey::es256();
    let stolen = thief.proof_at("GET", url, Some(&token));
    assert_eq!(
        refusal(v.verify_dpop(&token, &stolen, "GET", url).await),
        Error::Dpop(ProofError::WrongKey)
    );
    let no_ath = key.proof_at("GET", url, None);
    assert_eq!(
        refusal(v.verify_dpop(&token, &no_ath, "GET", url).await),
        Error::Dpop(ProofError::WrongAth)
    );
    // a bearer token is not taken with a proof either
    let (id, secret) = app.machine_client(&[], &["orders"]).await;
    let bearer: Value = app
        .http
        .post(format!("{issuer}/oauth2/token"))
        .basic_auth(id, secret)
        .form(&[("grant_type", "client_credentials")])
        .fetch_json()
        .await;
    let bearer = bearer["access_token"].as_str().unwrap();
    let proof = key.proof_at("GET", url, Some(bearer));
    assert_eq!(
        refusal(v.verify_dpop(bearer, &proof, "GET", url).await),
        Error::NotDpopBound
    );
    assert!(v.verify(bearer).await.is_ok());
}

#[tokio::test]
async fn the_actix_extractor_checks_the_proof_of_a_bound_token() {
    let (app, _proxy, issuer) =
        issuer_behind_proxy(Backend::Embedded, Arc::new(FixedClock::starting_now())).await;
    let key = ClientKey::es256();
    let token = bound_token(&app, &issuer, &key).await;
    let v = web::Data::new(verifier(&app, &issuer).await);
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/orders",
        listener.local_addr().unwrap().port()
    );
    let server = HttpServer::new(move || {
        App::new().app_data(v.clone()).route(
            "/orders",
            web::get().to(|token: BearerToken| async move { token.0.client_id }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    let call = |scheme: &str, proof: Option<String>| {
        let mut request = app
            .http
            .get(&url)
            .header("Authorization", format!("{scheme} {token}"));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.fetch()
    };
    let ok = call("DPoP", Some(key.proof_at("GET", &url, Some(&token)))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let bearer = call("Bearer", None).await;
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    let challenge = bearer.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    let thief = ClientKey::es256();
    let stolen = call("DPoP", Some(thief.proof_at("GET", &url, Some(&token)))).await;
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    assert!(stolen.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_dpop_proof"));
}

//! A DPoP-bound access token at tessera's own resources (RFC 9449 §7): userinfo and the
//! account API take it with `Authorization: DPoP` and a proof by its key carrying its
//! hash; as a bearer token, without a proof, with another key's proof, a wrong `ath` or
//! a replayed proof it is refused with a `DPoP` challenge.

use reqwest::StatusCode;
use serde_json::Value;

use super::spa_tokens;
use crate::helpers::dpop::ClientKey;
use crate::helpers::{spawn_with, Fetch, TestApp};

async fn userinfo(app: &TestApp, authorization: &str, proof: Option<String>) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .header("Authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    request.fetch().await
}

/// The `DPoP` challenge's error code of a refused presentation.
fn challenge(answer: &reqwest::Response) -> String {
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let header = answer.headers()["www-authenticate"].to_str().unwrap();
    assert!(header.starts_with("DPoP "), "{header}");
    let error = header.split("error=\"").nth(1).unwrap();
    error[..error.find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn userinfo_takes_a_bound_token_only_with_a_proof_by_its_key() {
    let app = spawn_with(&[]).await;
    let key = ClientKey::es256();
    let tokens = spa_tokens(&app, "eve@example.com", &key).await;
    let token = tokens["access_token"].as_str().unwrap();
    let dpop = format!("DPoP {token}");
    let answer = userinfo(
        &app,
        &dpop,
        Some(key.proof("GET", "/oauth2/userinfo", Some(token))),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let info: Value = answer.json().await.unwrap();
    assert_eq!(info["email"], "eve@example.com");

    // a bearer presentation of a bound token: a thief who read it cannot use it
    let bearer = userinfo(&app, &format!("Bearer {token}"), None).await;
    assert_eq!(challenge(&bearer), "invalid_token");
    // no proof, a proof for another request, another key, a wrong ath, a replay
    assert_eq!(
        challenge(&userinfo(&app, &dpop, None).await),
        "invalid_dpop_proof"
    );
    let post = key.proof("POST", "/oauth2/userinfo", Some(token));
    assert_eq!(
        challenge(&userinfo(&app, &dpop, Some(post)).await),
        "invalid_dpop_proof"
    );
    let thief = ClientKey::es256();
    let stolen = thief.proof("GET", "/oauth2/userinfo", Some(token));
    assert_eq!(
        challenge(&userinfo(&app, &dpop, Some(stolen)).await),
        "invalid_dpop_proof"
    );
    let wrong_ath = key.proof("GET", "/oauth2/userinfo", Some("another token"));
    let answer = userinfo(&app, &dpop, Some(wrong_ath)).await;
    assert_eq!(challenge(&answer), "invalid_dpop_proof");
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error_description"].as_str().unwrap().contains("ath"),
        "{body}"
    );
    let once = key.proof("GET", "/oauth2/userinfo", Some(token));
    assert_eq!(
        userinfo(&app, &dpop, Some(once.clone())).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        challenge(&userinfo(&app, &dpop, Some(once)).await),
        "invalid_dpop_proof"
    );
}

#[tokio::test]
async fn a_bearer_token_is_not_taken_as_a_dpop_one_and_the_account_api_checks_proofs_too() {
    let app = spawn_with(&[]).await;
    let bearer = app.new_user_tokens("fay@example.com").await;
    let token = bearer["access_token"].as_str().unwrap();
    let key = ClientKey::es256();
    let answer = userinfo(
        &app,
        &format!("DPoP {token}"),
        Some(key.proof("GET", "/oauth2/userinfo", Some(token))),
    )
    .await;
    assert_eq!(challenge(&answer), "invalid_token");
    // a missing token is offered both schemes
    let missing = app.http.get(app.url("/oauth2/userinfo")).fetch().await;
    let offered: Vec<&str> = missing
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        offered.iter().any(|c| c.starts_with("DPoP algs=")),
        "{offered:?}"
    );

    let tokens = spa_tokens(&app, "gil@example.com", &key).await;
    let token = tokens["access_token"].as_str().unwrap();
    let me = |proof: Option<String>, scheme: &str| {
        let mut request = app
            .http
            .get(app.url("/api/v1/me"))
            .header("Authorization", format!("{scheme} {token}"));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.fetch()
    };
    assert_eq!(
        me(Some(key.proof("GET", "/api/v1/me", Some(token))), "DPoP")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(challenge(&me(None, "Bearer").await), "invalid_token");
}

//! book § DPoP and PAR: pushed authorization requests (RFC 9126) through the hosted pages,
//! the code bound to a DPoP key (`dpop_jkt`, or a proof at PAR; RFC 9449 §10), and the
//! `fapi2` profile end to end: PAR with `private_key_jwt`, DPoP at the token endpoint,
//! tokens signed with ES256, and what the profile refuses.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::helpers::dpop::ClientKey;

/// Pushes `extra` over the usual parameters for `client` (public: `client_id` alone);
/// the answer.
async fn push(
    app: &TestApp,
    client: &str,
    extra: &[(&str, &str)],
    dpop: Option<String>,
) -> reqwest::Response {
    let url = url::Url::parse(&authorize_url(app, client, extra)).unwrap();
    let form: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut request = app.http.post(app.url("/oauth2/par")).form(&form);
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    request.fetch().await
}

async fn pushed_uri(answer: reqwest::Response) -> String {
    assert_eq!(answer.status(), StatusCode::CREATED);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    uri
}

/// The authorization URL of a pushed request, with `extra` front-channel parameters.
fn by_reference(app: &TestApp, client: &str, uri: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client)
        .append_pair("request_uri", uri)
        .extend_pairs(extra);
    url.to_string()
}

/// Signs cy in on the page `url` answers; the redirect back.
async fn signed_in_at(app: &TestApp, browser: &reqwest::Client, url: &str) -> url::Url {
    let page = browser.get(url).fetch().await;
    assert_eq!(page.status(), StatusCode::OK);
    let answer = submit_sign_in(app, browser, page, "cy@example.com", STRONG_PASSWORD).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    location(&answer)
}

#[apply(backends)]
#[tokio::test]
async fn a_pushed_request_is_used_once_with_its_own_parameters(backend: Backend) {
    let (app, client, browser) = signed_up(backend).await;
    let uri = pushed_uri(push(&app, &client, &[("state", "pushed-state")], None).await).await;
    // what the front channel adds besides client_id and request_uri is ignored
    let url = by_reference(
        &app,
        &client,
        &uri,
        &[("scope", "openid profile"), ("state", "forged")],
    );
    let back = signed_in_at(&app, &browser, &url).await;
    assert_eq!(query(&back, "state").as_deref(), Some("pushed-state"));
    let tokens = redeeming(&app, &client, &query(&back, "code").unwrap()).await;
    let scope: std::collections::BTreeSet<&str> =
        tokens["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(
        scope,
        ["email", "openid"].into(),
        "the pushed scope, not the front channel's"
    );
    // single use
    let again = browser.get(&url).fetch().await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("expired or was already used"));
}

#[tokio::test]
async fn a_request_uri_is_bound_to_its_client_and_expires() {
    let (app, clock) = spawn(Backend::Postgres).await;
    let client = code_client(&app, true).await;
    let other = code_client(&app, true).await;
    let browser = browser();
    let uri = pushed_uri(push(&app, &client, &[], None).await).await;
    let stolen = browser
        .get(by_reference(&app, &other, &uri, &[]))
        .fetch()
        .await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    let uri = pushed_uri(push(&app, &client, &[], None).await).await;
    clock.advance(Duration::from_secs(61));
    let late = browser
        .get(by_reference(&app, &client, &uri, &[]))
        .fetch()
        .await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    // a request_uri that is not a pushed one is refused at the client
    let answer = browser
        .get(authorize_url(
            &app,
            &client,
            &[("request_uri", "https://client.example/req")],
        ))
        .fetch()
        .await;
    assert_eq!(
        query(&location(&answer), "error").as_deref(),
        Some("request_uri_not_supported")
    );
}

#[tokio::test]
async fn a_pushed_request_is_checked_as_authorize_would() {
    let (app, _) = spawn(Backend::Embedded).await;
    let client = code_client(&app, true).await;
    for (extra, error) in [
        (
            vec![("redirect_uri", "https://evil.example/cb")],
            "invalid_request",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (
            vec![("request_uri", "urn:ietf:params:oauth:request_uri:x")],
            "invalid_request",
        ),
        (vec![("dpop_jkt", "short")], "invalid_request"),
    ] {
        let answer = push(&app, &client, &extra, None).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{extra:?}");
        assert_eq!(
            answer.json::<Value>().await.unwrap()["error"],
            error,
            "{extra:?}"
        );
    }
    let unknown = push(&app, "nobody", &[], None).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_that_must_push_is_refused_at_authorize_and_so_is_everyone_when_par_is_required() {
    let (app, _) = spawn(Backend::Embedded).await;
    app.user("cy@example.com").await;
    let (status, created) = app
        .admin_json(
            reqwest::Method::POST,
            "/admin/clients",
            Some(json!({
                "name": "pushy", "public": true, "first_party": true,
                "grant_types": ["authorization_code"], "scopes": ["openid", "email"],
                "redirect_uris": [REDIRECT], "require_pushed_authorization_requests": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let client = created["client_id"].as_str().unwrap();
    let browser = browser();
    let answer = browser.get(authorize_url(&app, client, &[])).fetch().await;
    let back = location(&answer);
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
    assert!(query(&back, "error_description").unwrap().contains("par"));
    let uri = pushed_uri(push(&app, client, &[], None).await).await;
    let back = signed_in_at(&app, &browser, &by_reference(&app, client, &uri, &[])).await;
    assert!(query(&back, "code").is_some());

    let strict = try_spawn_on(
        Arc::new(TestDb::on(Backend::Embedded).await),
        &[("require_par", "true")],
        Arc::new(FixedClock::starting_now()),
    )
    .await
    .unwrap();
    assert_eq!(
        strict.discovery().await["require_pushed_authorization_requests"],
        true
    );
    let client = code_client(&strict, true).await;
    let answer = browser
        .get(authorize_url(&strict, &client, &[]))
        .fetch()
        .await;
    assert_eq!(
        query(&location(&answer), "error").as_deref(),
        Some("invalid_request")
    );
}

#[apply(backends)]
#[tokio::test]
async fn a_code_asked_for_with_dpop_jkt_is_redeemed_only_with_that_key(backend: Backend) {
    let (app, client, browser) = signed_up(backend).await;
    let key = ClientKey::es256();
    let jkt = key.jkt();
    let code = || async {
        let answer = browser
            .get(authorize_url(&app, &client, &[("dpop_jkt", &jkt)]))
            .fetch()
            .await;
        let answer = if answer.status() == StatusCode::OK {
            submit_sign_in(&app, &browser, answer, "cy@example.com", STRONG_PASSWORD).await
        } else {
            answer
        };
        query(&location(&answer), "code").unwrap()
    };
    let redeem_with = |code: String, proof: Option<String>| {
        let mut request = app.http.post(app.url("/oauth2/token")).form(&[
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", client.clone()),
            ("code", code),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", VERIFIER.to_owned()),
        ]);
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.fetch()
    };
    let without = redeem_with(code().await, None).await;
    assert_eq!(
        without.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let thief = ClientKey::es256();
    let other = redeem_with(
        code().await,
        Some(thief.proof("POST", "/oauth2/token", None)),
    )
    .await;
    assert_eq!(
        other.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
    let held = redeem_with(code().await, Some(key.proof("POST", "/oauth2/token", None))).await;
    assert_eq!(held.status(), StatusCode::OK);
    let tokens: Value = held.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    // a proof at PAR binds the code the same way
    let uri = pushed_uri(
        push(
            &app,
            &client,
            &[],
            Some(key.proof("POST", "/oauth2/par", None)),
        )
        .await,
    )
    .await;
    let page = browser
        .get(by_reference(&app, &client, &uri, &[]))
        .fetch()
        .await;
    let back = location(&page);
    let refused = redeem_with(query(&back, "code").unwrap(), None).await;
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_dpop_proof"
    );
}

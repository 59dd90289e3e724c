//! book § Upstream providers: tessera's own second factor after an upstream sign-in (and
//! `trust_mfa`), and a link made from the account API in the signed-in browser.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::helpers::{Backend, FakeIdp, Fetch, Grant, STRONG_PASSWORD};

#[tokio::test]
async fn tessera_asks_for_its_own_second_factor_unless_the_provider_is_trusted_for_it() {
    let (app, clock) = spawn(Backend::Embedded).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let secret = app.enrol_totp("cy@example.com", &clock).await;
    clock.advance(std::time::Duration::from_secs(30));
    let idp = FakeIdp::start().await;
    let mut doc = idp.oidc_provider("fake");
    doc["trust_email"] = json!(true);
    register(&app, doc).await;
    let http = browser();
    let mfa = trip(&app, &idp, &http, &client, |nonce| {
        let mut claims = idp.claims(nonce, "u-3", "cy@example.com", true);
        claims.insert("amr".into(), json!(["pwd", "otp"]));
        grant(claims)
    })
    .await;
    assert_eq!(mfa.status(), StatusCode::OK);
    let html = mfa.text().await.unwrap();
    let answer = http
        .post(app.url("/oauth2/authorize/mfa"))
        .form(&[
            ("flow", hidden(&html, "flow")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("mfa_token", hidden(&html, "mfa_token")),
            ("code", crate::helpers::pyotp_code(&secret, &clock)),
        ])
        .fetch()
        .await;
    let tokens = tokens_from(&app, &client, answer).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["fed", "pwd", "otp"]));
    assert_eq!(id["idp"], "fake");
    // trusted for MFA, and the provider's amr shows a second factor: no second step here
    app.admin_json(
        Method::PATCH,
        "/admin/providers/fake",
        Some(json!({"trust_mfa": true})),
    )
    .await;
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        let mut claims = idp.claims(nonce, "u-3", "cy@example.com", true);
        claims.insert("amr".into(), json!(["pwd", "mfa"]));
        grant(claims)
    })
    .await;
    tokens_from(&app, &client, answer).await;
    // trusted, but a single factor upstream: asked again
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-3", "cy@example.com", true))
    })
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("mfa_token"));
}

#[tokio::test]
async fn a_signed_in_user_links_a_provider_from_the_account_api_in_the_same_browser() {
    let (app, _) = spawn(Backend::Embedded).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let idp = FakeIdp::start().await;
    register(&app, idp.oidc_provider("fake")).await;
    let http = browser();
    let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
    let signed_in = submit_sign_in(&app, &http, page, "cy@example.com", STRONG_PASSWORD).await;
    let tokens = tokens_from(&app, &client, signed_in).await;
    let access = tokens["access_token"].as_str().unwrap();
    let start = |provider: &str| {
        app.http
            .post(app.url("/api/v1/me/identities"))
            .bearer_auth(access)
            .json(&json!({ "provider": provider }))
            .fetch()
    };
    assert_eq!(start("nobody").await.status(), StatusCode::NOT_FOUND);
    let link = |http: reqwest::Client| {
        let (app, idp) = (&app, &idp);
        async move {
            let begun: Value = start("fake").await.json().await.unwrap();
            let at = url::Url::parse(begun["authorization_url"].as_str().unwrap()).unwrap();
            idp.issue(
                "link-code",
                Grant {
                    challenge: query(&at, "code_challenge").unwrap(),
                    ..grant(idp.claims(
                        &query(&at, "nonce").unwrap(),
                        "u-4",
                        "cy.work@example.com",
                        true,
                    ))
                },
            );
            back(app, &http, "fake", &at, &[("code", "link-code")]).await
        }
    };
    // a browser not signed in as cy cannot finish it (a link cannot be pushed on someone)
    let elsewhere = link(browser()).await;
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    assert_eq!(identities(&app, access).await["identities"], json!([]));
    let linked = link(http.clone()).await;
    assert_eq!(linked.status(), StatusCode::OK);
    assert!(linked
        .text()
        .await
        .unwrap()
        .contains("is linked to your account"));
    let listed = identities(&app, access).await;
    assert_eq!(listed["identities"][0]["subject"], "u-4");
    // and it signs cy in, though its email is another one
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-4", "cy.work@example.com", true))
    })
    .await;
    let tokens = tokens_from(&app, &client, answer).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["email"],
        "cy@example.com"
    );
}

/// With verification required, an account a provider made without a trusted verified email
/// is refused like a password's, and the page offers the link for the account's address;
/// a sign-in that succeeds is audited with `amr` and `idp` apart.
#[tokio::test]
async fn an_unverified_upstream_account_is_offered_the_link_when_verification_is_required() {
    let db = std::sync::Arc::new(crate::helpers::TestDb::on(Backend::Embedded).await);
    let app = crate::helpers::spawn_on(db, &[("email_verification", "required")]).await;
    let client = code_client(&app, true).await;
    let idp = FakeIdp::start().await;
    register(&app, idp.oidc_provider("fake")).await;
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-8", "eight@example.com", true))
    })
    .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let html = answer.text().await.unwrap();
    assert!(html.contains("Confirm your email address first"), "{html}");
    assert!(
        html.contains("action=\"/oauth2/authorize/resend\""),
        "{html}"
    );
    assert!(html.contains("value=\"eight@example.com\""), "{html}");
    // trusted for email, the provider's verification counts: signed in, audited apart
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            "/admin/providers/fake",
            Some(json!({"trust_email": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-9", "nine@example.com", true))
    })
    .await;
    tokens_from(&app, &client, answer).await;
    let audit: Value = app
        .admin_get("/admin/audit?type=login_succeeded")
        .fetch_json()
        .await;
    let event = &audit["events"][0]["detail"];
    assert_eq!(event["amr"], json!(["fed", "pwd"]), "{audit}");
    assert_eq!(event["idp"], "fake", "{audit}");
}

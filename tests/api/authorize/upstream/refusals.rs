//! book § Upstream providers: every refusal of an upstream sign-in — a bad signature, a
//! wrong `iss`, `aud` or `nonce`, an expired token, a replayed state, another browser's
//! callback, the provider's own error, a mixed-up issuer — and the account rules that
//! refuse: an email that belongs to an account, sign-up turned off.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::helpers::{Backend, FakeIdp, Fetch, Grant};

/// The sign-in page again, refusing: its status and text.
async fn refused_page(answer: reqwest::Response) -> String {
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    answer.text().await.unwrap()
}

#[tokio::test]
async fn every_bad_answer_of_an_upstream_is_refused_and_audited() {
    let (app, _) = spawn(Backend::Embedded).await;
    let client = code_client(&app, true).await;
    let idp = FakeIdp::start().await;
    register(&app, idp.oidc_provider("fake")).await;
    let good = |nonce: &str| idp.claims(nonce, "u-9", "nine@example.com", true);
    type Spoil = fn(&mut Grant);
    let spoiled: [(&str, Spoil); 6] = [
        ("a key the provider does not publish", |g| g.evil_key = true),
        ("another issuer", |g| {
            g.claims.insert("iss".into(), json!("http://127.0.0.1:1"));
        }),
        ("another audience", |g| {
            g.claims.insert("aud".into(), json!("someone-else"));
        }),
        ("another nonce", |g| {
            g.claims.insert("nonce".into(), json!("not-the-one-sent"));
        }),
        ("expired", |g| {
            g.claims.insert("exp".into(), json!(1_000_000_000));
        }),
        ("no subject", |g| {
            g.claims.remove("sub");
        }),
    ];
    for (what, spoil) in spoiled {
        let answer = trip(&app, &idp, &browser(), &client, |nonce| {
            let mut g = grant(good(nonce));
            spoil(&mut g);
            g
        })
        .await;
        let html = refused_page(answer).await;
        assert!(
            html.contains("That provider did not sign you in"),
            "{what}: {html}"
        );
    }
    // the provider's own error: tessera's words, never the provider's
    let http = browser();
    let at = begin(&app, &http, &client, "fake").await;
    let answer = back(
        &app,
        &http,
        "fake",
        &at,
        &[
            ("error", "access_denied"),
            ("error_description", "<script>alert(1)</script>"),
        ],
    )
    .await;
    let html = refused_page(answer).await;
    assert!(html.contains("That provider did not sign you in"), "{html}");
    assert!(
        !html.contains("alert(1)") && !html.contains("access_denied"),
        "{html}"
    );
    // a state once: the second use finds nothing
    let http = browser();
    let at = begin(&app, &http, &client, "fake").await;
    let code = "code-once";
    idp.issue(
        code,
        Grant {
            challenge: query(&at, "code_challenge").unwrap(),
            ..grant(good(&query(&at, "nonce").unwrap()))
        },
    );
    let first = back(&app, &http, "fake", &at, &[("code", code)]).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let replay = back(&app, &http, "fake", &at, &[("code", code)]).await;
    assert!(refused_page(replay)
        .await
        .contains("This sign-in has expired"));
    // another browser's callback (no CSRF cookie of the one that began) is refused
    let at = begin(&app, &browser(), &client, "fake").await;
    let stranger = back(&app, &browser(), "fake", &at, &[("code", "x")]).await;
    assert!(refused_page(stranger)
        .await
        .contains("This sign-in has expired"));
    // an answer naming another issuer (RFC 9207) is refused
    let http = browser();
    let at = begin(&app, &http, &client, "fake").await;
    let mixed = back(
        &app,
        &http,
        "fake",
        &at,
        &[("code", "x"), ("iss", "https://evil.example")],
    )
    .await;
    assert!(refused_page(mixed)
        .await
        .contains("That provider did not sign you in"));
    // an unknown or disabled provider has no trip
    let unknown = http
        .get(app.url("/oauth2/upstream/nobody/start?flow=x"))
        .fetch()
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    // no account was made by any of it, and each failure is in the audit trail
    let users: Value = app
        .admin_get("/admin/users?email=nine%40example.com")
        .fetch_json()
        .await;
    assert_eq!(
        users["users"].as_array().map(Vec::len),
        Some(1),
        "the one good trip made it"
    );
    let audit: Value = app
        .admin_get("/admin/audit?type=upstream_failed&limit=100")
        .fetch_json()
        .await;
    let failures = audit["events"].as_array().map_or(0, Vec::len);
    assert!(failures >= 8, "{audit}");
    let text = audit.to_string();
    assert!(
        !text.contains(crate::helpers::FAKE_CLIENT_SECRET) && !text.contains("code-once"),
        "{text}"
    );
}

#[tokio::test]
async fn an_email_that_belongs_to_an_account_links_only_when_trusted_and_verified() {
    let (app, _) = spawn(Backend::Embedded).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let idp = FakeIdp::start().await;
    let mut doc = idp.oidc_provider("fake");
    doc["trust_email"] = json!(true);
    register(&app, doc).await;
    // trusted provider, unverified email: refused, no second account
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-2", "cy@example.com", false))
    })
    .await;
    assert!(refused_page(answer)
        .await
        .contains("An account here already has that email address"));
    // verified but not trusted: refused too
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            "/admin/providers/fake",
            Some(json!({"trust_email": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-2", "cy@example.com", true))
    })
    .await;
    assert!(refused_page(answer)
        .await
        .contains("An account here already has that email address"));
    // trusted and verified: linked to cy
    app.admin_json(
        Method::PATCH,
        "/admin/providers/fake",
        Some(json!({"trust_email": true})),
    )
    .await;
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-2", "cy@example.com", true))
    })
    .await;
    let tokens = tokens_from(&app, &client, answer).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        app.user_id("cy@example.com").await
    );
}

#[tokio::test]
async fn with_sign_up_off_an_unlinked_upstream_user_is_told_to_link_first() {
    let db = std::sync::Arc::new(crate::helpers::TestDb::on(Backend::Embedded).await);
    let app = crate::helpers::spawn_on(db, &[("upstream_signup", "false")]).await;
    let client = code_client(&app, true).await;
    let idp = FakeIdp::start().await;
    register(&app, idp.oidc_provider("fake")).await;
    let answer = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-5", "five@example.com", true))
    })
    .await;
    assert!(refused_page(answer)
        .await
        .contains("No account here is linked to that sign-in"));
    let users: Value = app
        .admin_get("/admin/users?email=five%40example.com")
        .fetch_json()
        .await;
    assert_eq!(users["users"], json!([]));
}

/// Each trip is kept server side until used or expired, so starting one counts against the
/// address's sign-in allowance like a password attempt.
#[tokio::test]
async fn starting_trips_is_limited_per_address() {
    let db = std::sync::Arc::new(crate::helpers::TestDb::on(Backend::Embedded).await);
    let app = crate::helpers::spawn_on(db, &[("rate_limit_login_ip", "2/60")]).await;
    let client = code_client(&app, true).await;
    let idp = FakeIdp::start().await;
    register(&app, idp.oidc_provider("fake")).await;
    let http = browser();
    begin(&app, &http, &client, "fake").await;
    begin(&app, &http, &client, "fake").await;
    let link = start_link(&app, &http, &client, "fake").await;
    let third = http.get(app.url(&link)).fetch().await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    assert!(third.text().await.unwrap().contains("Too many attempts"));
}

/// Calls to a provider follow no redirect and read at most 512 KiB: a discovery document
/// behind a redirect, or one too large, ends the trip before it starts, audited.
#[tokio::test]
async fn a_provider_that_redirects_or_answers_too_much_is_refused() {
    let (app, _) = spawn(Backend::Embedded).await;
    let client = code_client(&app, true).await;
    let idp = FakeIdp::start().await;
    for (id, path) in [("moved", "redirect"), ("huge", "huge")] {
        let mut doc = idp.oidc_provider(id);
        doc["issuer"] = json!(format!("{}/{path}", idp.base));
        doc["name"] = json!(format!("Provider {id}"));
        register(&app, doc).await;
    }
    for id in ["moved", "huge"] {
        let http = browser();
        let link = start_link(&app, &http, &client, id).await;
        let refused = http.get(app.url(&link)).fetch().await;
        let html = refused_page(refused).await;
        assert!(
            html.contains("That provider did not sign you in"),
            "{id}: {html}"
        );
    }
    let audit: Value = app
        .admin_get("/admin/audit?type=upstream_failed")
        .fetch_json()
        .await;
    let reasons = audit.to_string();
    assert!(reasons.contains("302"), "{reasons}");
    assert!(reasons.contains("larger than"), "{reasons}");
}

/// A disabled provider leaves the sign-in page and cannot be started, and its links stay:
/// enabled again, the same identity signs in as the same user.
#[tokio::test]
async fn a_disabled_provider_is_hidden_and_refused_and_keeps_its_links() {
    let (app, _) = spawn(Backend::Embedded).await;
    let client = code_client(&app, true).await;
    let idp = FakeIdp::start().await;
    register(&app, idp.oidc_provider("fake")).await;
    let who = |nonce: &str| grant(idp.claims(nonce, "u-7", "seven@example.com", true));
    let first = trip(&app, &idp, &browser(), &client, who).await;
    let first = tokens_from(&app, &client, first).await;
    let http = browser();
    let link = start_link(&app, &http, &client, "fake").await;
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            "/admin/providers/fake",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
    assert!(!page.text().await.unwrap().contains("Continue with"));
    let refused = http.get(app.url(&link)).fetch().await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("not available"));
    app.admin_json(
        Method::PATCH,
        "/admin/providers/fake",
        Some(json!({"enabled": true})),
    )
    .await;
    let again = trip(&app, &idp, &browser(), &client, who).await;
    let again = tokens_from(&app, &client, again).await;
    assert_eq!(
        claims(again["id_token"].as_str().unwrap())["sub"],
        claims(first["id_token"].as_str().unwrap())["sub"]
    );
}

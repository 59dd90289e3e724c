//! book § Upstream providers: signing in through another provider on both stores — an
//! OpenID provider and GitHub's OAuth shape served on loopback by the test, and a second
//! tessera — with the account rules (sign-up, linking by a trusted verified email, the
//! account API's links and their last-way rule), `idp` and `amr` in the tokens, tessera's
//! own second factor afterwards, and every refusal: a bad signature, a wrong `iss`,
//! `aud` or `nonce`, an expired token, a replayed state, another browser's callback, the
//! provider's error, and an unverified email that belongs to an account.

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Map, Value};

mod accounts;
mod refusals;

use super::{
    authorize_url, browser, code_client, hidden, location, query, redeeming, spawn, submit_sign_in,
    REDIRECT,
};
use crate::helpers::{backends, claims, Backend, FakeIdp, Fetch, Grant, TestApp, STRONG_PASSWORD};

async fn register(app: &TestApp, doc: Value) {
    let (status, body) = app
        .admin_json(Method::POST, "/admin/providers", Some(doc))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The sign-in page's "Continue with" link for `provider`, as a browser would follow it.
async fn start_link(app: &TestApp, http: &reqwest::Client, client: &str, provider: &str) -> String {
    let page = http.get(authorize_url(app, client, &[])).fetch().await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let marker = format!("href=\"/oauth2/upstream/{provider}/start?");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no link in {html}"))
        + 6;
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
}

/// A trip begun from the sign-in page: the provider's authorization URL.
async fn begin(app: &TestApp, http: &reqwest::Client, client: &str, provider: &str) -> url::Url {
    let link = start_link(app, http, client, provider).await;
    let to_provider = http.get(app.url(&link)).fetch().await;
    assert_eq!(to_provider.status(), StatusCode::SEE_OTHER);
    location(&to_provider)
}

/// The provider sends the browser back with `code` (or the extra parameters) for `at`.
async fn back(
    app: &TestApp,
    http: &reqwest::Client,
    provider: &str,
    at: &url::Url,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut url =
        url::Url::parse(&app.url(&format!("/oauth2/upstream/{provider}/callback"))).unwrap();
    url.query_pairs_mut()
        .append_pair("state", &query(at, "state").unwrap())
        .extend_pairs(extra);
    http.get(url.as_str()).fetch().await
}

/// A whole trip to the fake provider whose code stands for `claims`.
async fn trip(
    app: &TestApp,
    idp: &FakeIdp,
    http: &reqwest::Client,
    client: &str,
    shape: impl FnOnce(&str) -> Grant,
) -> reqwest::Response {
    let at = begin(app, http, client, "fake").await;
    let grant = Grant {
        challenge: query(&at, "code_challenge").unwrap(),
        ..shape(&query(&at, "nonce").unwrap_or_default())
    };
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    idp.issue(&code, grant);
    back(app, http, "fake", &at, &[("code", &code)]).await
}

fn grant(claims: Map<String, Value>) -> Grant {
    Grant {
        challenge: String::new(),
        claims,
        evil_key: false,
        emails: json!([]),
    }
}

/// Tokens for the code a callback's redirect carries.
async fn tokens_from(app: &TestApp, client: &str, answer: reqwest::Response) -> Value {
    if answer.status() != StatusCode::SEE_OTHER {
        let audit: Value = app
            .admin_get("/admin/audit?type=upstream_failed")
            .fetch_json()
            .await;
        panic!(
            "{} {}\n{audit}",
            answer.status(),
            answer.text().await.unwrap()
        );
    }
    let to = location(&answer);
    assert!(to.as_str().starts_with(REDIRECT), "{to}");
    redeeming(app, client, &query(&to, "code").unwrap()).await
}

async fn identities(app: &TestApp, access: &str) -> Value {
    app.http
        .get(app.url("/api/v1/me/identities"))
        .bearer_auth(access)
        .fetch_json()
        .await
}

async fn unlink(app: &TestApp, access: &str, id: &str) -> StatusCode {
    app.http
        .delete(app.url(&format!("/api/v1/me/identities/{id}")))
        .bearer_auth(access)
        .fetch()
        .await
        .status()
}

#[apply(backends)]
#[tokio::test]
async fn an_oidc_upstream_signs_a_new_user_in_and_the_tokens_name_it(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    let idp = FakeIdp::start().await;
    register(&app, idp.oidc_provider("fake")).await;
    let http = browser();
    let page = http.get(authorize_url(&app, &client, &[])).fetch().await;
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Continue with Fake SSO"));
    let answer = trip(&app, &idp, &http, &client, |nonce| {
        grant(idp.claims(nonce, "u-1", "new@example.com", true))
    })
    .await;
    let tokens = tokens_from(&app, &client, answer).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["idp"], "fake");
    assert_eq!(id["amr"], json!(["fed", "pwd"]));
    assert_eq!(id["email"], "new@example.com");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["idp"], "fake");
    let listed = identities(&app, access).await;
    let linked = &listed["identities"][0];
    assert_eq!(
        (linked["provider"].as_str(), linked["subject"].as_str()),
        (Some("fake"), Some("u-1"))
    );
    assert_eq!(linked["email"], "new@example.com");
    // the operator sees an account without a password, and its link
    let user = claims(access)["sub"].as_str().unwrap().to_owned();
    let viewed: Value = app
        .admin_get(&format!("/admin/users/{user}"))
        .fetch_json()
        .await;
    assert_eq!(viewed["has_password"], false, "{viewed}");
    let links: Value = app
        .admin_get(&format!("/admin/users/{user}/identities"))
        .fetch_json()
        .await;
    assert_eq!(links, listed);
    // the account has no password and no passkey: its only link stays
    let id_of_link = linked["id"].as_str().unwrap();
    assert_eq!(unlink(&app, access, id_of_link).await, StatusCode::CONFLICT);
    assert_eq!(
        unlink(&app, access, "no-such-link").await,
        StatusCode::NOT_FOUND
    );
    // the same upstream identity signs in as the same user, from another browser
    let again = trip(&app, &idp, &browser(), &client, |nonce| {
        grant(idp.claims(nonce, "u-1", "new@example.com", true))
    })
    .await;
    let again = tokens_from(&app, &client, again).await;
    assert_eq!(
        claims(again["id_token"].as_str().unwrap())["sub"],
        id["sub"]
    );
    // a password guess at the account finds nothing to match
    let guess = app.password_grant("new@example.com", "", "openid").await;
    assert_eq!(guess.status(), StatusCode::BAD_REQUEST);
}

#[apply(backends)]
#[tokio::test]
async fn a_github_shaped_provider_links_the_account_of_its_primary_verified_email(
    backend: Backend,
) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    let idp = FakeIdp::start().await;
    let mut doc = idp.github_provider("fake");
    doc["name"] = json!("GitHub");
    register(&app, doc).await;
    let http = browser();
    let answer = trip(&app, &idp, &http, &client, |_| {
        let Value::Object(user) = json!({"id": 12345, "login": "cy", "name": "Cy", "email": null})
        else {
            unreachable!()
        };
        Grant {
            emails: json!([
                {"email": "old@example.com", "primary": false, "verified": true},
                {"email": "cy@example.com", "primary": true, "verified": true},
            ]),
            ..grant(user)
        }
    })
    .await;
    let tokens = tokens_from(&app, &client, answer).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], app.user_id("cy@example.com").await);
    assert_eq!(id["idp"], "fake");
    assert_eq!(id["amr"], json!(["fed"]));
    let access = tokens["access_token"].as_str().unwrap();
    let listed = identities(&app, access).await;
    assert_eq!(listed["identities"][0]["subject"], "12345");
    // cy has a password: the link may go
    let link = listed["identities"][0]["id"].as_str().unwrap();
    assert_eq!(unlink(&app, access, link).await, StatusCode::NO_CONTENT);
    assert_eq!(identities(&app, access).await["identities"], json!([]));
}

/// A second tessera is the upstream: its own hosted sign-in, its code redeemed with a
/// client secret, its ID token verified against its JWKS.
#[apply(backends)]
#[tokio::test]
async fn a_second_tessera_is_an_upstream_openid_provider(backend: Backend) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    let (upstream, issuer) = super::relying_parties::spawn_on_localhost(backend).await;
    upstream.user("up@example.com").await;
    let callback = format!("{}/oauth2/upstream/t2/callback", app.state.settings.issuer);
    let (id, secret) = upstream
        .admin_client(json!({
            "name": "tessera downstream",
            "grant_types": ["authorization_code"],
            "scopes": ["openid", "email", "profile"],
            "redirect_uris": [callback],
            "first_party": true,
        }))
        .await;
    register(
        &app,
        json!({
            "id": "t2", "kind": "oidc", "name": "Upstream tessera", "issuer": issuer,
            "client_id": id, "client_secret": secret, "scopes": ["openid", "email"],
        }),
    )
    .await;
    let http = browser();
    let at = begin(&app, &http, &client, "t2").await;
    assert!(at.as_str().starts_with(&issuer), "{at}");
    let page = http.get(at.as_str()).fetch().await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let signed_in = http
        .post(format!("{issuer}/oauth2/authorize/signin"))
        .form(&[
            ("flow", hidden(&html, "flow").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("email", "up@example.com"),
            ("password", STRONG_PASSWORD),
        ])
        .fetch()
        .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let returned = location(&signed_in);
    assert!(returned.as_str().starts_with(&callback), "{returned}");
    assert_eq!(query(&returned, "iss").as_deref(), Some(issuer.as_str()));
    // the browser arrives at this tessera's callback (its issuer is a fixed name in tests)
    let path = format!("{}?{}", returned.path(), returned.query().unwrap());
    let answer = http.get(app.url(&path)).fetch().await;
    let tokens = tokens_from(&app, &client, answer).await;
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["idp"], "t2");
    assert_eq!(id_token["amr"], json!(["fed", "pwd"]));
    assert_eq!(id_token["email"], "up@example.com");
    assert_ne!(id_token["sub"], upstream.user_id("up@example.com").await);
}

/// In Chromium, with node-oidc-provider (certified) as the upstream and openid-client as
/// the relying party: "Continue with" on the hosted page, the provider's own login and
/// consent, and the tokens back at the app naming the provider; a sign-in cancelled at
/// the provider ends on tessera's page in tessera's words.
#[apply(backends)]
#[tokio::test]
async fn node_oidc_provider_is_the_upstream_of_openid_client_in_chromium(backend: Backend) {
    let (app, issuer) = super::relying_parties::spawn_on_localhost(backend).await;
    let back_at = super::relying_parties::the_app().await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/admin/clients",
            Some(json!({
                "name": "Example App", "public": true, "first_party": true,
                "grant_types": ["authorization_code"], "scopes": ["openid", "email", "profile"],
                "redirect_uris": [format!("{back_at}/cb")],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client = body["client_id"].as_str().unwrap().to_owned();
    let op_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let op_secret = "node-op-secret-0123456789abcdef";
    register(
        &app,
        json!({
            "id": "node-op", "kind": "oidc", "name": "Node OP",
            "issuer": format!("http://127.0.0.1:{op_port}"),
            "client_id": "tessera", "client_secret": op_secret,
            "scopes": ["openid", "email", "profile"], "trust_email": true,
        }),
    )
    .await;
    register(
        &app,
        json!({
            "id": "node-op-key", "kind": "oidc", "name": "Node OP by key",
            "issuer": format!("http://127.0.0.1:{op_port}"),
            "client_id": "tessera-key", "token_endpoint_auth_method": "private_key_jwt",
            "scopes": ["openid", "email"], "trust_email": true,
        }),
    )
    .await;
    let shots = super::relying_parties::shots_dir(&format!("upstream-{backend:?}"));
    let port = op_port.to_string();
    let args = [
        "upstream.mjs",
        &issuer,
        &client,
        &back_at,
        &port,
        "tessera",
        op_secret,
    ];
    let args = [&args[..], &["node@example.com", &shots]].concat();
    let report = super::relying_parties::browser_script(&args, "node (the upstream flow)").await;
    assert_eq!(report["button"], "Continue with Node OP", "{report}");
    assert_eq!(report["claims"]["idp"], "node-op", "{report}");
    assert_eq!(report["claims"]["amr"][0], "fed", "{report}");
    assert_eq!(report["claims"]["email"], "node@example.com", "{report}");
    // by tessera's own key (private_key_jwt): the same user, through the other client
    assert_eq!(report["key_claims"]["idp"], "node-op-key", "{report}");
    assert_eq!(
        report["key_claims"]["sub"], report["claims"]["sub"],
        "{report}"
    );
    assert_eq!(
        report["cancelled_says"],
        "That provider did not sign you in. Try again, or sign in another way.",
        "{report}"
    );
    assert_eq!(report["console"], json!([]), "{report}");
}

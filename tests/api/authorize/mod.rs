//! book § Sign-in with the authorization-code flow: the authorization-code flow with PKCE and the hosted pages, driven end to end
//! by a certified relying-party library (Authlib), and every refusal at request level:
//! open-redirect attempts, PKCE, CSRF, code reuse, the page's headers and its lockout.
//! Also in a real headless browser with openid-client as the relying party.

mod apache_rp;
mod consent;
mod dpop_spa;
mod fapi2;
mod pushed;
mod refusals;
mod relying_parties;
mod sessions;
mod unverified;
mod upstream;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tessera::clock::{Clock, FixedClock};

use crate::helpers::{backends, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD};

const REDIRECT: &str = "https://app.example.com/cb";
const SIGNED_OUT: &str = "https://app.example.com/signed-out";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A client of the code flow with `REDIRECT` and a loopback URI; returns its id.
async fn code_client(app: &TestApp, first_party: bool) -> String {
    let new = tessera::domain::NewClient {
        name: "Example App".into(),
        public: true,
        first_party,
        grant_types: ["authorization_code", "refresh_token"]
            .iter()
            .map(|g| g.parse().unwrap())
            .collect(),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        audiences: vec![],
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1/native".into()],
        post_logout_redirect_uris: vec![SIGNED_OUT.into()],
        ..Default::default()
    };
    let operator = tessera::service::admin::Operator {
        actor: "test".into(),
        now: app.state.clock.now(),
    };
    let (client, _) = tessera::service::admin::create_client(&app.state.stores, new, &operator)
        .await
        .unwrap();
    client.id.to_string()
}

async fn spawn(backend: Backend) -> (TestApp, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(Arc::new(TestDb::on(backend).await), &[], clock.clone())
        .await
        .unwrap();
    (app, clock)
}

/// An app with a first-party code client (its id) and the user cy@example.com, and a
/// browser to sign in with.
async fn signed_up(backend: Backend) -> (TestApp, String, reqwest::Client) {
    let (app, _) = spawn(backend).await;
    let client = code_client(&app, true).await;
    app.user("cy@example.com").await;
    (app, client, browser())
}

/// A browser: cookies kept, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn authorize_url(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(existing, _)| existing != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// The value of the hidden input `name` on a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#43;", "+")
        .replace("&#x2b;", "+")
}

fn location(response: &reqwest::Response) -> url::Url {
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap()
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Signs in on the page `page` answered; returns the response to the form post.
async fn submit_sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    page: reqwest::Response,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let html = page.text().await.unwrap();
    browser
        .post(app.url("/oauth2/authorize/signin"))
        .form(&[
            ("flow", hidden(&html, "flow").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("email", email),
            ("password", password),
        ])
        .fetch()
        .await
}

/// A code for `client` from a browser that signs in (or is signed in already).
async fn code_for(app: &TestApp, browser: &reqwest::Client, client: &str) -> String {
    let page = browser.get(authorize_url(app, client, &[])).fetch().await;
    let answer = if page.status() == StatusCode::OK {
        submit_sign_in(app, browser, page, "cy@example.com", STRONG_PASSWORD).await
    } else {
        page
    };
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let back = location(&answer);
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    query(&back, "code").unwrap()
}

/// The tokens a code for `client` buys, from a browser that signs in as cy (or is signed
/// in already).
async fn tokens_for(app: &TestApp, browser: &reqwest::Client, client: &str) -> Value {
    let code = code_for(app, browser, client).await;
    redeeming(app, client, &code).await
}

/// The tokens `code` buys with the right verifier.
async fn redeeming(app: &TestApp, client: &str, code: &str) -> Value {
    let answer = redeem(app, client, code, Some(VERIFIER)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

async fn redeem(
    app: &TestApp,
    client: &str,
    code: &str,
    verifier: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    app.token(&form).await
}

//! Passkeys (WebAuthn Level 3, book § Passkeys) on the JSON API, driven by the tests' software
//! authenticator (`helpers::passkey`): registration from the account API, a discoverable
//! sign-in and one for a named user, the `amr` without user verification, and a server
//! with passkeys off; every refusal in `refusals`, the second factor in `second_factor`.

mod refusals;
mod second_factor;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::FixedClock;

use crate::helpers::passkey::SoftAuthenticator;
use crate::helpers::{
    backends, claims, spawn_backend, spawn_on_clock, Backend, Fetch, TestApp, TestDb,
    STRONG_PASSWORD,
};

/// WebAuthn needs a domain: the issuer is on `localhost`, which is also the RP ID.
const ORIGIN: &str = "http://localhost:8080";

/// The rate limit and lockout stay out of the way here; `failed_assertions_count_toward_the_lockout`
/// has them.
async fn app_at(backend: Backend, clock: Arc<FixedClock>) -> TestApp {
    let db = Arc::new(TestDb::on(backend).await);
    let settings = [
        ("issuer", ORIGIN),
        ("rate_limit_login_ip", "0"),
        ("lockout_threshold", "0"),
    ];
    spawn_on_clock(db, &settings, clock).await
}

/// A user signed in with the password grant: the access token and the refresh token.
async fn signed_in(app: &TestApp, email: &str) -> (String, String) {
    let tokens = app.login(email, "openid email").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    (access, tokens["refresh_token"].as_str().unwrap().to_owned())
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.fetch().await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A cookie-API call from the allowed origin.
async fn session_call(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("origin", ORIGIN)
        .json(&body)
        .fetch()
        .await
}

/// `POST /api/v1/me/passkeys/options` with no body (a recent sign-in).
async fn registration_options(app: &TestApp, token: &str) -> (StatusCode, Value) {
    call(
        app,
        Method::POST,
        "/api/v1/me/passkeys/options",
        token,
        None,
    )
    .await
}

/// Registers a passkey of `authenticator` for the holder of `token`: the registration's
/// status and body.
async fn register(
    app: &TestApp,
    token: &str,
    authenticator: &mut SoftAuthenticator,
) -> (StatusCode, Value) {
    let (status, options) = registration_options(app, token).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let credential = authenticator.create(&options["publicKey"]);
    let body =
        json!({ "ceremony": options["ceremony"], "credential": credential, "name": "Laptop" });
    call(app, Method::POST, "/api/v1/me/passkeys", token, Some(body)).await
}

/// `DELETE path` with the password as the step-up.
async fn delete_with_password(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let body = json!({ "password": STRONG_PASSWORD });
    call(app, Method::DELETE, path, token, Some(body)).await
}

/// Sign-in options, for `email` or discoverable.
async fn sign_in_options(app: &TestApp, email: Option<&str>) -> Value {
    let body = email.map_or(json!({}), |e| json!({ "email": e }));
    let response = session_call(app, "/api/v1/session/passkey/options", body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn sign_in_with(app: &TestApp, ceremony: &Value, credential: Value) -> reqwest::Response {
    let body = json!({ "ceremony": ceremony, "credential": credential });
    session_call(app, "/api/v1/session/passkey", body).await
}

/// The sign-in ceremony of `options` answered by `authenticator`: the response.
async fn answer(
    app: &TestApp,
    options: &Value,
    authenticator: &mut SoftAuthenticator,
) -> reqwest::Response {
    let credential = authenticator.get(&options["publicKey"]);
    sign_in_with(app, &options["ceremony"], credential).await
}

/// A discoverable sign-in with `authenticator`'s newest passkey: the response.
async fn sign_in(app: &TestApp, authenticator: &mut SoftAuthenticator) -> reqwest::Response {
    let options = sign_in_options(app, None).await;
    answer(app, &options, authenticator).await
}

async fn audit_types(app: &TestApp, kind: &str) -> Vec<Value> {
    let (status, body) = app
        .admin_json(Method::GET, &format!("/admin/audit?type={kind}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    body["events"].as_array().unwrap().clone()
}

#[apply(backends)]
#[tokio::test]
async fn a_passkey_added_from_the_account_api_signs_in_with_nothing_else(backend: Backend) {
    let app = app_at(backend, Arc::new(FixedClock::starting_now())).await;
    app.user("kai@example.com").await;
    let (token, _) = signed_in(&app, "kai@example.com").await;
    let (_, other_refresh) = signed_in(&app, "kai@example.com").await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);

    // registration asks for a discoverable credential, UV preferred, no attestation
    let (status, options) = registration_options(&app, &token).await;
    assert_eq!(status, StatusCode::OK);
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "localhost");
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "preferred"
    );
    assert_eq!(public_key["attestation"], "none");
    assert_eq!(
        URL_SAFE_LEN_32,
        public_key["challenge"].as_str().unwrap().len(),
        "32 random bytes"
    );
    let credential = authenticator.create(public_key);
    let body =
        json!({ "ceremony": options["ceremony"], "credential": credential, "name": "Laptop" });
    let (status, added) = call(
        &app,
        Method::POST,
        "/api/v1/me/passkeys",
        &token,
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["name"], "Laptop");
    assert_eq!(added["backed_up"], true);
    assert_eq!(added["last_used_at"], Value::Null);
    assert_eq!(
        app.refresh_status(&other_refresh).await,
        StatusCode::BAD_REQUEST,
        "other sessions end"
    );
    assert_eq!(audit_types(&app, "passkey_added").await.len(), 1);

    // the next registration excludes it
    let (_, options) = registration_options(&app, &token).await;
    let excluded = options["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(excluded.len(), 1);
    assert_eq!(
        excluded[0]["id"],
        json!(crate::helpers::passkey::b64(
            &authenticator.credentials[0].id
        ))
    );

    // a discoverable sign-in: no email typed, no allowCredentials
    let options = sign_in_options(&app, None).await;
    let listed = options["publicKey"]["allowCredentials"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(listed, 0);
    let response = answer(&app, &options, &mut authenticator).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("tessera_rt="),
        "the refresh token goes in the cookie"
    );
    let body: Value = response.json().await.unwrap();
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["hwk", "mfa"]));
    assert_eq!(
        access["sub"],
        app.stored_user("kai@example.com")
            .await
            .unwrap()
            .id
            .to_string()
    );

    // and one for a named user lists that user's credentials
    let options = sign_in_options(&app, Some("kai@example.com")).await;
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let response = answer(&app, &options, &mut authenticator).await;
    assert_eq!(response.status(), StatusCode::OK);

    let (status, list) = call(&app, Method::GET, "/api/v1/me/passkeys", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let passkeys = list["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1);
    assert!(passkeys[0]["last_used_at"].is_i64(), "{list}");

    // an operator lists and deletes it (a lost device)
    let user = app.stored_user("kai@example.com").await.unwrap().id;
    let (status, listed) = app
        .admin_json(Method::GET, &format!("/admin/users/{user}/passkeys"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["passkeys"][0]["id"], passkeys[0]["id"]);
    let path = format!(
        "/admin/users/{user}/passkeys/{}",
        passkeys[0]["id"].as_str().unwrap()
    );
    assert_eq!(
        app.admin_json(Method::DELETE, &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.admin_json(Method::DELETE, &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let gone = sign_in(&app, &mut authenticator).await;
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
}

/// The length of 32 bytes in unpadded base64url.
const URL_SAFE_LEN_32: usize = 43;

#[tokio::test]
async fn without_user_verification_the_amr_is_hwk_alone() {
    let app = app_at(Backend::Embedded, Arc::new(FixedClock::starting_now())).await;
    app.user("lee@example.com").await;
    let (token, _) = signed_in(&app, "lee@example.com").await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    authenticator.verifies_user = false;
    authenticator.synced = false;
    let (status, added) = register(&app, &token, &mut authenticator).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["backed_up"], false);
    let response = sign_in(&app, &mut authenticator).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["amr"],
        json!(["hwk"])
    );
}

#[tokio::test]
async fn passkeys_are_off_with_an_issuer_on_an_ip_address() {
    let app = spawn_backend(Backend::Embedded, &[]).await;
    let response = app
        .http
        .post(app.url("/api/v1/session/passkey/options"))
        .header("origin", "http://127.0.0.1:8080")
        .json(&json!({}))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

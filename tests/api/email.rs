//! Email addresses (book § Email) end to end, on both stores: verification required holds
//! sign-in back until the link is followed (password grant, JSON API, passkey-free hosted
//! page alike), registration answers the same for a taken address (status, body and
//! time) and tells its owner instead, links are single use and of one kind each, resends
//! are limited, an operator can vouch for an address, and a change of address needs the
//! step-up, happens only through the link sent to the new address, tells the old one and
//! ends the reset links sent there; and a completed reset verifies the address.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::FixedClock;

use crate::helpers::{
    backends, claims, spawn_on_clock, Backend, Fetch, TestApp, TestDb, Webhook, STRONG_PASSWORD,
};
use crate::reset::{forgot, reset, NEW_PASSWORD};

const ORIGIN: &str = "https://app.example.com";

async fn app_with(backend: Backend, hook: &Webhook, mode: &str) -> (TestApp, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::starting_now());
    let db = Arc::new(TestDb::on(backend).await);
    let settings = [
        ("notify_webhook_url", hook.url.as_str()),
        ("email_verification", mode),
        ("cors_origins", ORIGIN),
    ];
    (spawn_on_clock(db, &settings, clock.clone()).await, clock)
}

/// The `n`-th message of `event` the hook received, waiting for the hook to hold `total`.
async fn message(hook: &Webhook, total: usize, event: &str, n: usize) -> Value {
    let bodies = hook.wait_for(total).await;
    bodies
        .into_iter()
        .filter(|b| b["event"] == event)
        .nth(n)
        .unwrap_or_else(|| panic!("no {event} #{n}"))
}

/// Opens a message's link on the app (the issuer's origin is the app's), as a browser's
/// one GET: the status and the page.
async fn follow(app: &TestApp, link: &Value) -> (StatusCode, String) {
    let link = link.as_str().unwrap();
    let path = &link[link.find("/email/").unwrap()..];
    let response = app.http.get(app.url(path)).fetch().await;
    let status = response.status();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    (status, response.text().await.unwrap())
}

/// The ID token claims of a password sign-in as `email`.
async fn id_claims(app: &TestApp, email: &str) -> Value {
    let tokens: Value = app
        .password_grant(email, STRONG_PASSWORD, "openid email")
        .await
        .json()
        .await
        .unwrap();
    claims(tokens["id_token"].as_str().unwrap())
}

/// Asks for the verification link again.
async fn resend(app: &TestApp, email: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/email/verification"))
        .json(&json!({ "email": email }))
        .fetch()
        .await
}

async fn audit_events(app: &TestApp, kind: &str) -> Vec<Value> {
    let path = format!("/admin/audit?type={kind}");
    let (status, body) = app.admin_json(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    body["events"].as_array().unwrap().clone()
}

async fn session_login(app: &TestApp, email: &str) -> reqwest::Response {
    app.spa_call(Method::POST, "/api/v1/session", ORIGIN, None)
        .json(&json!({ "email": email, "password": STRONG_PASSWORD }))
        .fetch()
        .await
}

#[apply(backends)]
#[tokio::test]
async fn verification_required_holds_sign_in_back_until_the_link_is_followed(backend: Backend) {
    let hook = Webhook::start(Duration::ZERO).await;
    let (app, _clock) = app_with(backend, &hook, "required").await;
    let email = "vera@example.com";
    let registered = app.register(email, STRONG_PASSWORD).await;
    assert_eq!(registered.status(), StatusCode::ACCEPTED);
    let first = message(&hook, 1, "email_verification", 0).await;
    assert_eq!(first["email"], email);
    let link = first["link"].as_str().unwrap();
    assert!(link.contains("/email/verify?token=tse_"), "{link}");
    assert!(first["token"].as_str().unwrap().starts_with("tse_"));

    let refused = app.password_grant(email, STRONG_PASSWORD, "openid").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "email_not_verified"
    );
    let refused = session_login(&app, email).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "email_not_verified"
    );
    // a wrong password is still the generic refusal: the unverified state is told only to
    // whoever has the password
    let wrong = app
        .password_grant(email, "not-the-Password-at-all-1", "openid")
        .await;
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // a new link on request; the first still works, and a verify link is no confirm link
    let resent = resend(&app, email).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let second = message(&hook, 2, "email_verification", 1).await;
    assert_ne!(second["token"], first["token"]);
    let wrong_kind = app
        .http
        .get(app.url(&format!(
            "/email/confirm?token={}",
            first["token"].as_str().unwrap()
        )))
        .fetch()
        .await;
    assert_eq!(wrong_kind.status(), StatusCode::BAD_REQUEST);

    let (status, page) = follow(&app, &first["link"]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Email address confirmed"), "{page}");
    let (again, page) = follow(&app, &first["link"]).await;
    assert_eq!(again, StatusCode::BAD_REQUEST, "single use");
    assert!(page.contains("This link does not work"), "{page}");

    let id = id_claims(&app, email).await;
    assert_eq!(id["email_verified"], true, "{id}");
    assert_eq!(session_login(&app, email).await.status(), StatusCode::OK);

    // a verified address gets no more links, and the answer does not say so
    let resent = resend(&app, email).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let unknown = resend(&app, "nobody@example.com").await;
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.received(), 2);
    // the per-address allowance (3 an hour), the same answer for every address
    assert_eq!(resend(&app, email).await.status(), StatusCode::ACCEPTED);
    let throttled = resend(&app, email).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
    let events = audit_events(&app, "email_verified").await;
    assert_eq!(events.len(), 1, "{events:?}");
}

#[apply(backends)]
#[tokio::test]
async fn optional_verification_lets_sign_in_through_and_email_verified_follows_the_link(
    backend: Backend,
) {
    let hook = Webhook::start(Duration::ZERO).await;
    let (app, _clock) = app_with(backend, &hook, "optional").await;
    let email = "olive@example.com";
    app.user(email).await;
    assert_eq!(id_claims(&app, email).await["email_verified"], false);
    let link = message(&hook, 1, "email_verification", 0).await;
    assert_eq!(follow(&app, &link["link"]).await.0, StatusCode::OK);
    assert_eq!(id_claims(&app, email).await["email_verified"], true);
}

#[apply(backends)]
#[tokio::test]
async fn registration_answers_a_taken_address_as_a_new_one_and_tells_its_owner(backend: Backend) {
    let hook = Webhook::start(Duration::ZERO).await;
    let (app, _clock) = app_with(backend, &hook, "optional").await;
    let fresh = app.register("Tess@Example.com", STRONG_PASSWORD).await;
    let (fresh_status, fresh_body) = (fresh.status(), fresh.text().await.unwrap());
    message(&hook, 1, "email_verification", 0).await;
    let taken = app
        .register("tess@example.com", "another-Strong-passphrase-77")
        .await;
    assert_eq!(taken.status(), fresh_status);
    assert_eq!(taken.text().await.unwrap(), fresh_body);
    assert_eq!(fresh_status, StatusCode::ACCEPTED);
    let body: Value = serde_json::from_str(&fresh_body).unwrap();
    assert_eq!(
        body,
        json!({"status": "check_email", "email": "tess@example.com"})
    );
    let notice = message(&hook, 2, "security_notice", 0).await;
    assert_eq!(notice["notice"], "registration_attempt");
    assert_eq!(notice["email"], "tess@example.com");
    assert_eq!(app.db.count_rows("users").await, 1);

    // the same time: both answers hash the password and write once; the notice is
    // queued after the answer. Medians of alternating rounds, each with a new address
    // and the taken one.
    let (mut new, mut old) = (Vec::new(), Vec::new());
    for round in 0..7 {
        let started = Instant::now();
        let r = app
            .register(&format!("t{round}@example.com"), STRONG_PASSWORD)
            .await;
        new.push(started.elapsed());
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let started = Instant::now();
        let r = app.register("tess@example.com", STRONG_PASSWORD).await;
        old.push(started.elapsed());
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    new.sort();
    old.sort();
    let ratio = old[3].as_secs_f64() / new[3].as_secs_f64();
    assert!(
        (0.67..1.5).contains(&ratio),
        "taken ÷ new median = {ratio:.2} ({:?} vs {:?})",
        old[3],
        new[3]
    );
    // at most the per-address allowance of notices (3 an hour) reaches the owner
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies = hook.wait_for(hook.received()).await;
    let notices = bodies
        .iter()
        .filter(|b| b["notice"] == "registration_attempt")
        .count();
    assert_eq!(notices, 3, "{bodies:?}");
}

#[apply(backends)]
#[tokio::test]
async fn an_operator_vouches_for_an_address_and_sign_in_proceeds(backend: Backend) {
    let hook = Webhook::start(Duration::ZERO).await;
    let (app, _clock) = app_with(backend, &hook, "required").await;
    let email = "opal@example.com";
    app.user(email).await;
    let id = app.stored_user(email).await.unwrap().id;
    let path = format!("/admin/users/{id}/email-verified");
    let (status, body) = app
        .admin_json(Method::PUT, &path, Some(json!({"email_verified": true})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email_verified"], true);
    let login = app.password_grant(email, STRONG_PASSWORD, "openid").await;
    assert_eq!(login.status(), StatusCode::OK);
    let (status, _) = app
        .admin_json(
            Method::PUT,
            "/admin/users/00000000-0000-0000-0000-000000000000/email-verified",
            Some(json!({"email_verified": true})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .admin_json(Method::PUT, &path, Some(json!({"verified": true})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(audit_events(&app, "email_verified_set").await.len(), 1);
}

async fn change(app: &TestApp, access: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/api/v1/me/email"))
        .bearer_auth(access)
        .json(&body)
        .fetch()
        .await
}

#[apply(backends)]
#[tokio::test]
async fn a_change_of_address_needs_the_step_up_and_the_new_address_and_tells_the_old(
    backend: Backend,
) {
    let hook = Webhook::start(Duration::ZERO).await;
    let (app, clock) = app_with(backend, &hook, "off").await;
    let (old, new) = ("cora@example.com", "cora.new@example.org");
    app.user(old).await;
    app.user("taken@example.com").await;
    let tokens: Value = app
        .password_grant(old, STRONG_PASSWORD, "openid")
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let same = change(&app, access, json!({ "email": old })).await;
    assert_eq!(same.status(), StatusCode::BAD_REQUEST);
    let malformed = change(&app, access, json!({ "email": "nope" })).await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // minutes after the sign-in: the password is needed, and a wrong one is refused
    clock.advance(Duration::from_secs(301));
    let stale = change(&app, access, json!({ "email": new })).await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        stale.json::<Value>().await.unwrap()["error"],
        "reauthentication_required"
    );
    let wrong = change(
        &app,
        access,
        json!({ "email": new, "password": "not-the-Password-9" }),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let asked = change(
        &app,
        access,
        json!({ "email": new, "password": STRONG_PASSWORD }),
    )
    .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let confirm = message(&hook, 1, "email_change", 0).await;
    assert_eq!(confirm["email"], new);
    assert!(confirm["link"]
        .as_str()
        .unwrap()
        .contains("/email/confirm?token=tse_"));

    // another account's address: the same answer, its owner told, no link
    let taken = change(
        &app,
        access,
        json!({ "email": "taken@example.com", "password": STRONG_PASSWORD }),
    )
    .await;
    assert_eq!(taken.status(), StatusCode::ACCEPTED);
    let notice = message(&hook, 2, "security_notice", 0).await;
    assert_eq!(notice["notice"], "registration_attempt");
    assert_eq!(notice["email"], "taken@example.com");

    // nothing changed yet; a reset link sent to the old address meanwhile
    assert_eq!(app.stored_user(old).await.unwrap().email.as_str(), old);
    forgot(&app, old).await;
    let pending_reset = message(&hook, 3, "password_reset", 0).await;

    let (status, page) = follow(&app, &confirm["link"]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Email address changed"), "{page}");
    let moved = app.stored_user(new).await.unwrap();
    assert!(
        moved.email_verified,
        "the followed link proves the new address"
    );
    assert!(app.stored_user(old).await.is_none());
    let told = message(&hook, 4, "security_notice", 1).await;
    assert_eq!(told["notice"], "email_changed");
    assert_eq!(told["email"], old, "the old address is told");

    let dead = reset(&app, pending_reset["token"].as_str().unwrap(), NEW_PASSWORD).await;
    assert_eq!(
        dead.status(),
        StatusCode::BAD_REQUEST,
        "a reset link sent to the old address dies"
    );
    assert_eq!(
        follow(&app, &confirm["link"]).await.0,
        StatusCode::BAD_REQUEST
    );
    let login = app.password_grant(new, STRONG_PASSWORD, "openid").await;
    assert_eq!(login.status(), StatusCode::OK);
    let login = app.password_grant(old, STRONG_PASSWORD, "openid").await;
    assert_eq!(login.status(), StatusCode::BAD_REQUEST);
    assert_eq!(audit_events(&app, "email_changed").await.len(), 1);
}

#[apply(backends)]
#[tokio::test]
async fn a_completed_reset_proves_the_address(backend: Backend) {
    let hook = Webhook::start(Duration::ZERO).await;
    let (app, _clock) = app_with(backend, &hook, "required").await;
    let email = "ruth@example.com";
    app.user(email).await;
    forgot(&app, email).await;
    let link = message(&hook, 2, "password_reset", 0).await;
    let done = reset(&app, link["token"].as_str().unwrap(), NEW_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert!(app.stored_user(email).await.unwrap().email_verified);
    let login = app.password_grant(email, NEW_PASSWORD, "openid").await;
    assert_eq!(login.status(), StatusCode::OK);
}

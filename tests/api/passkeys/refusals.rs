//! Every refused passkey ceremony (book § Passkeys): a replayed, expired or another user's
//! ceremony, a phishing origin, another site's RP ID, a sign counter that goes backwards,
//! an unknown or deleted passkey, a discoverable assertion without its user handle, a
//! stale sign-in without the password; and the lockout and address limit they count
//! toward.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::json;
use tessera::clock::FixedClock;

use super::*;
use crate::helpers::passkey::SoftAuthenticator;
use crate::helpers::{backends, spawn_on_clock, Backend, TestDb};

#[apply(backends)]
#[tokio::test]
async fn every_refused_ceremony_is_refused_and_signs_nobody_in(backend: Backend) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = app_at(backend, clock.clone()).await;
    app.user("ines@example.com").await;
    app.user("omar@example.com").await;
    let (token, _) = signed_in(&app, "ines@example.com").await;
    let (omar, _) = signed_in(&app, "omar@example.com").await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let (status, added) = register(&app, &token, &mut authenticator).await;
    assert_eq!(status, StatusCode::OK, "{added}");

    // registration: another site's RP ID, and another user's ceremony
    let mut elsewhere = SoftAuthenticator::new(ORIGIN);
    elsewhere.rp_id_override = Some("example.com".into());
    let (status, _) = register(&app, &token, &mut elsewhere).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, options) = registration_options(&app, &token).await;
    let credential = SoftAuthenticator::new(ORIGIN).create(&options["publicKey"]);
    let body = json!({ "ceremony": options["ceremony"], "credential": credential });
    let (status, _) = call(&app, Method::POST, "/api/v1/me/passkeys", &omar, Some(body)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "Ines's ceremony is not Omar's"
    );

    // a passkey created for this server, never registered
    let mut stranger = SoftAuthenticator::new(ORIGIN);
    let (_, options) = registration_options(&app, &omar).await;
    stranger.create(&options["publicKey"]);

    // a replayed ceremony: its first finish took it
    let options = sign_in_options(&app, None).await;
    let assertion = authenticator.get(&options["publicKey"]);
    let first = sign_in_with(&app, &options["ceremony"], assertion.clone()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let replay = sign_in_with(&app, &options["ceremony"], assertion).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);

    // an expired one: five minutes
    let options = sign_in_options(&app, None).await;
    clock.advance(Duration::from_secs(301));
    let late = answer(&app, &options, &mut authenticator).await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);

    // a phishing page's origin
    authenticator.origin = "http://localhost.evil.example:8080".into();
    let phished = sign_in(&app, &mut authenticator).await;
    assert_eq!(phished.status(), StatusCode::UNAUTHORIZED);
    authenticator.origin = ORIGIN.into();

    // a sign counter that goes backwards (a cloned authenticator): refused and audited
    authenticator.credentials[0].counter = 0;
    let cloned = sign_in(&app, &mut authenticator).await;
    assert_eq!(cloned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        audit_types(&app, "passkey_counter_regressed").await.len(),
        1
    );
    authenticator.credentials[0].counter = 100;

    // a discoverable assertion without the user handle names nobody
    authenticator.sends_user_handle = false;
    let anonymous = sign_in(&app, &mut authenticator).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    authenticator.sends_user_handle = true;

    // a ceremony for another user takes only that user's passkeys
    let options = sign_in_options(&app, Some("omar@example.com")).await;
    let assertion = authenticator.assert_with(0, &options["publicKey"]);
    let foreign = sign_in_with(&app, &options["ceremony"], assertion).await;
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);

    // a passkey never registered here
    let unknown = sign_in(&app, &mut stranger).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    // a stale sign-in needs the password for registering and deleting
    clock.advance(Duration::from_secs(301));
    let (status, body) = registration_options(&app, &token).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::FORBIDDEN, json!("reauthentication_required"))
    );
    let id = added["id"].as_str().unwrap();
    let path = format!("/api/v1/me/passkeys/{id}");
    let (status, _) = call(&app, Method::DELETE, &path, &token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let wrong = json!({ "password": "not the password at all" });
    let (status, _) = call(&app, Method::DELETE, &path, &token, Some(wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // renamed, then deleted with the password: it signs in no more
    let (status, _) = call(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(json!({ "name": "Old phone" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let long = json!({ "name": "x".repeat(65) });
    assert_eq!(
        call(&app, Method::PATCH, &path, &token, Some(long)).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, _) = delete_with_password(&app, &path, &omar).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not Omar's passkey");
    let (status, _) = delete_with_password(&app, &path, &token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(audit_types(&app, "passkey_deleted").await.len(), 1);
    let deleted = sign_in(&app, &mut authenticator).await;
    assert_eq!(deleted.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = delete_with_password(&app, &path, &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let failures = audit_types(&app, "login_failed").await;
    assert!(
        failures.len() >= 5,
        "each refused sign-in is audited: {failures:?}"
    );
    // the passkey added and the one removed: a security notice each (the log sink here)
    app.wait_for_metric(r#"tessera_outbox_sent_total{kind="security_notice"} 2"#)
        .await;
}

#[tokio::test]
async fn failed_assertions_count_toward_the_lockout_and_the_address_limit() {
    let db = Arc::new(TestDb::on(Backend::Embedded).await);
    let settings = [
        ("issuer", ORIGIN),
        ("lockout_threshold", "2"),
        ("rate_limit_login_ip", "8/900"),
    ];
    let app = spawn_on_clock(db, &settings, Arc::new(FixedClock::starting_now())).await;
    app.user("ada@example.com").await;
    let (token, _) = signed_in(&app, "ada@example.com").await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    assert_eq!(
        register(&app, &token, &mut authenticator).await.0,
        StatusCode::OK
    );

    // two assertions from a phishing origin, then the account is locked for this network
    authenticator.origin = "http://localhost.evil.example:8080".into();
    for _ in 0..2 {
        let refused = sign_in(&app, &mut authenticator).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    authenticator.origin = ORIGIN.into();
    let locked = sign_in(&app, &mut authenticator).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right passkey, while locked"
    );
    assert!(locked.headers().contains_key("retry-after"));

    // options and finishes count against the address: 8 in all, then 429
    let response = session_call(&app, "/api/v1/session/passkey/options", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = session_call(&app, "/api/v1/session/passkey/options", json!({})).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

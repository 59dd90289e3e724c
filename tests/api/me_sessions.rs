//! book § Endpoints: a user's sessions (list, end, password change), SPA logout, the verified-token cache and the absolute session lifetime.

use std::sync::Arc;

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use tessera::clock::FixedClock;

use crate::helpers::{
    backends, cookie_pair, spawn_backend, spawn_on_clock, Backend, Fetch, TestApp, TestDb,
    STRONG_PASSWORD,
};

async fn spa_login(app: &TestApp, email: &str, user_agent: &str) -> Value {
    app.http
        .post(app.url("/oauth2/token"))
        .header("user-agent", user_agent)
        .form(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", email),
            ("password", STRONG_PASSWORD),
            ("scope", "openid"),
        ])
        .fetch_json()
        .await
}

#[apply(backends)]
#[tokio::test]
async fn users_see_their_sessions_and_can_end_one_but_not_someone_elses(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let resource = app.resource_server().await;
    app.user("pat@example.com").await;
    app.user("quinn@example.com").await;
    let laptop = spa_login(&app, "pat@example.com", "laptop-browser").await;
    let phone = spa_login(&app, "pat@example.com", "phone-app").await;
    let other = spa_login(&app, "quinn@example.com", "other").await;

    let list: Value = app
        .http
        .get(app.url("/api/v1/me/sessions"))
        .bearer_auth(laptop["access_token"].as_str().unwrap())
        .fetch_json()
        .await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "laptop-browser");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    let phone_session = sessions
        .iter()
        .find(|s| s["user_agent"] == "phone-app")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let other_list: Value = app
        .http
        .get(app.url("/api/v1/me/sessions"))
        .bearer_auth(other["access_token"].as_str().unwrap())
        .fetch_json()
        .await;
    let other_session = other_list["sessions"][0]["id"].as_str().unwrap().to_owned();
    let foreign = app
        .http
        .delete(app.url(&format!("/api/v1/me/sessions/{other_session}")))
        .bearer_auth(laptop["access_token"].as_str().unwrap())
        .fetch()
        .await;
    assert_eq!(
        foreign.status(),
        StatusCode::NOT_FOUND,
        "another user's session is not found"
    );
    assert_eq!(
        app.refresh_status(other["refresh_token"].as_str().unwrap())
            .await,
        StatusCode::OK,
        "and it survives"
    );

    let ended = app
        .http
        .delete(app.url(&format!("/api/v1/me/sessions/{phone_session}")))
        .bearer_auth(laptop["access_token"].as_str().unwrap())
        .fetch()
        .await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.refresh_status(phone["refresh_token"].as_str().unwrap())
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.introspect_as(&resource, phone["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(
        app.introspect_as(&resource, laptop["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
}

#[apply(backends)]
#[tokio::test]
async fn changing_the_password_needs_the_current_one_ends_other_sessions_and_cuts_off_old_tokens(
    backend: Backend,
) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = spawn_on_clock(Arc::new(TestDb::on(backend).await), &[], clock.clone()).await;
    let resource = app.resource_server().await;
    app.user("rae@example.com").await;
    let here = spa_login(&app, "rae@example.com", "here").await;
    let elsewhere = spa_login(&app, "rae@example.com", "elsewhere").await;
    let access = here["access_token"].as_str().unwrap();
    let change = |current: &'static str, new: &'static str| {
        app.http
            .post(app.url("/api/v1/me/password"))
            .bearer_auth(access)
            .json(&serde_json::json!({"current_password": current, "new_password": new}))
            .send()
    };

    assert_eq!(
        change("Not-the-current-password-9", "Vivid-Orchard-Lantern-4821")
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let weak = change(STRONG_PASSWORD, "password1234").await.unwrap();
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert!(weak.json::<Value>().await.unwrap()["fields"]
        .to_string()
        .contains("too easy"));

    clock.advance(std::time::Duration::from_millis(1100)); // cutoff has 1 s resolution
    assert_eq!(
        change(STRONG_PASSWORD, "Vivid-Orchard-Lantern-4821")
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        app.refresh_status(elsewhere["refresh_token"].as_str().unwrap())
            .await,
        StatusCode::BAD_REQUEST,
        "other sessions end"
    );
    assert_eq!(
        app.introspect_as(&resource, access).await["active"],
        false,
        "tokens issued before the change are cut off"
    );
    let renewed = app.refresh(here["refresh_token"].as_str().unwrap()).await;
    assert_eq!(renewed.status(), StatusCode::OK, "this session continues");
    let renewed: Value = renewed.json().await.unwrap();
    assert_eq!(
        app.introspect_as(&resource, renewed["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
    assert_eq!(
        app.password_grant("rae@example.com", STRONG_PASSWORD, "openid")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.password_grant("rae@example.com", "Vivid-Orchard-Lantern-4821", "openid")
            .await
            .status(),
        StatusCode::OK
    );
}

#[apply(backends)]
#[tokio::test]
async fn spa_logout_also_blocklists_the_presented_access_token(backend: Backend) {
    let origin = "https://app.example.com";
    let app = spawn_backend(backend, &[("cors_origins", origin)]).await;
    let resource = app.resource_server().await;
    app.user("sam@example.com").await;
    let login = app
        .spa_call(reqwest::Method::POST, "/api/v1/session", origin, None)
        .json(&serde_json::json!({"email": "sam@example.com", "password": STRONG_PASSWORD}))
        .fetch()
        .await;
    let cookie = cookie_pair(&login);
    let access = login.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let logout = app
        .spa_call(
            reqwest::Method::DELETE,
            "/api/v1/session",
            origin,
            Some(&cookie),
        )
        .bearer_auth(&access)
        .fetch()
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.introspect_as(&resource, &access).await["active"], false);
}

#[apply(backends)]
#[tokio::test]
async fn a_cached_verification_still_expires_and_a_tampered_copy_is_still_refused(
    backend: Backend,
) {
    let clock = Arc::new(tessera::clock::FixedClock::starting_now());
    let app = crate::helpers::try_spawn_on(Arc::new(TestDb::on(backend).await), &[], clock.clone())
        .await
        .unwrap();
    let resource = app.resource_server().await;
    let issued: Value = app
        .token_json(&[
            ("grant_type", "client_credentials"),
            ("client_id", &resource.0),
            ("client_secret", resource.1.as_deref().unwrap()),
        ])
        .await;
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect_as(&resource, &token).await["active"], true);
    assert_eq!(
        app.introspect_as(&resource, &token).await["active"],
        true,
        "served from the cache"
    );

    // flip a character well inside the signature (the last one may only carry padding bits)
    let mut chars: Vec<char> = token.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert_eq!(
        app.introspect_as(&resource, &tampered).await["active"],
        false
    );

    clock.advance(std::time::Duration::from_secs(20 * 60));
    assert_eq!(
        app.introspect_as(&resource, &token).await["active"],
        false,
        "expired despite the cache"
    );
}

#[apply(backends)]
#[tokio::test]
async fn a_session_past_its_absolute_lifetime_cannot_be_refreshed(backend: Backend) {
    let clock = Arc::new(tessera::clock::FixedClock::starting_now());
    let app = crate::helpers::try_spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[("refresh_absolute_ttl", "3600")],
        clock.clone(),
    )
    .await
    .unwrap();
    let first = app.new_user_tokens("tess@example.com").await;
    let token = first["refresh_token"].as_str().unwrap();
    clock.advance(std::time::Duration::from_secs(1800));
    let renewed: Value = app.refresh(token).await.json().await.unwrap();
    let token = renewed["refresh_token"]
        .as_str()
        .expect("within the lifetime")
        .to_owned();

    clock.advance(std::time::Duration::from_secs(1801));
    let expired = app.refresh(&token).await;
    assert_eq!(
        expired.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

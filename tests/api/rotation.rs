//! SPEC S4, S5: refresh rotation with retry grace and reuse detection, revocation,
//! introspection, the blocklist, and what happens under races and Redis outages.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    cookie_pair, redis_url, spawn_on, spawn_with, Fetch, Proxy, TestApp, TestDb, STRONG_PASSWORD,
};

async fn login(app: &TestApp, email: &str) -> Value {
    app.user(email).await;
    let response = app
        .password_grant(email, STRONG_PASSWORD, "openid email")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.token(&[
        ("grant_type", "refresh_token"),
        ("client_id", "spa"),
        ("refresh_token", token),
    ])
    .await
}

/// A confidential client that may introspect and revoke (the resource server).
async fn introspector(app: &TestApp) -> (String, String) {
    let (id, secret) = app.client(&["client_credentials"], false, false).await;
    (id, secret.unwrap())
}

async fn introspect(app: &TestApp, client: &(String, String), token: &str) -> Value {
    let response = app
        .http
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("token", token)])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn fifty_concurrent_refreshes_within_grace_all_get_the_same_new_token_and_rotate_once() {
    let app = spawn_app_with_grace("10").await;
    let first = login(&app, "jo@example.com").await;
    let token = first["refresh_token"].as_str().unwrap().to_owned();

    let attempts = (0..50).map(|_| refresh(&app, &token));
    let responses = futures_util::future::join_all(attempts).await;
    let mut new_tokens = std::collections::HashSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        new_tokens.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        new_tokens.len(),
        1,
        "every retry got the same new refresh token"
    );
    let new = new_tokens.into_iter().next().unwrap();
    assert_ne!(new, token);
    // exactly one rotation: the new token is current and rotates normally
    let next = refresh(&app, &new).await;
    assert_eq!(next.status(), StatusCode::OK, "the family stayed alive");
}

async fn spawn_app_with_grace(grace: &str) -> TestApp {
    spawn_with(&[("refresh_grace", grace)]).await
}

#[tokio::test]
async fn a_token_reused_after_the_grace_window_revokes_the_family_its_access_tokens_and_is_audited()
{
    let app = spawn_app_with_grace("1").await;
    let resource = introspector(&app).await;
    let first = login(&app, "kim@example.com").await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value = refresh(&app, &old).await.json().await.unwrap();
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &resource, &access).await["active"], true);

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let reuse = refresh(&app, &old).await;
    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reuse.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let current = refresh(&app, rotated["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        current.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the whole family is revoked"
    );
    assert_eq!(
        introspect(&app, &resource, &access).await,
        serde_json::json!({"active": false})
    );
    let userinfo = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(&access)
        .fetch()
        .await;
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);

    let row = app.db.connect().await.query_one("SELECT user_id, client_id, ip, detail FROM audit_events WHERE event_type = 'refresh_token_reuse'", &[]).await.unwrap();
    let (client_id, ip, detail): (String, Option<String>, Value) =
        (row.get(1), row.get(2), row.get(3));
    assert_eq!(client_id, "spa");
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert!(detail["family"].is_string());
}

#[tokio::test]
async fn a_forged_token_with_a_known_session_id_is_rejected_without_revoking_the_session() {
    let app = spawn_app().await;
    let first = login(&app, "lee@example.com").await;
    let real = first["refresh_token"].as_str().unwrap();
    // what an attacker can know of a session: its id (the `sid` of every access token,
    // the session list, the logs); a token built from it, with any tail
    let sid = crate::helpers::claims(first["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let sid_bytes = URL_SAFE_NO_PAD.decode(&sid).unwrap();
    assert_eq!(sid_bytes.len(), 16);
    let forged = format!(
        "tsr_{}",
        URL_SAFE_NO_PAD.encode([sid_bytes.as_slice(), &[0x41; 16]].concat())
    );
    assert!(
        !real.contains(&sid) && !real.contains(&forged[4..26]),
        "the session id is no part of the refresh token"
    );
    assert_eq!(
        refresh(&app, &forged).await.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(
        refresh(&app, real).await.status(),
        StatusCode::OK,
        "the real session survives"
    );
}

async fn spawn_app() -> TestApp {
    spawn_with(&[]).await
}

#[tokio::test]
async fn rotating_on_one_instance_and_reusing_on_another_is_detected() {
    let db = Arc::new(TestDb::new().await);
    let a = spawn_on(db.clone(), &[("refresh_grace", "0")]).await;
    let b = spawn_on(db.clone(), &[("refresh_grace", "0")]).await;
    let first = login(&a, "max@example.com").await;
    let old = first["refresh_token"].as_str().unwrap();
    let rotated: Value = refresh(&a, old).await.json().await.unwrap();

    let reuse = refresh(&b, old).await;
    assert_eq!(
        reuse.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let after = refresh(&a, rotated["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        after.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "revoked for both"
    );
}

#[tokio::test]
async fn revoke_racing_refresh_always_ends_with_the_family_revoked() {
    let app = spawn_app().await;
    let resource = introspector(&app).await;
    for round in 0..10 {
        let first = login(&app, &format!("race{round}@example.com")).await;
        let token = first["refresh_token"].as_str().unwrap().to_owned();
        let revoke = app
            .http
            .post(app.url("/oauth2/revoke"))
            .form(&[("token", token.as_str()), ("client_id", "spa")])
            .send();
        let (revoked, refreshed) = tokio::join!(revoke, refresh(&app, &token));
        assert_eq!(revoked.unwrap().status(), StatusCode::OK);
        let refreshed: Value = refreshed.json().await.unwrap();
        if let Some(new) = refreshed["refresh_token"].as_str() {
            assert_eq!(
                refresh(&app, new).await.json::<Value>().await.unwrap()["error"],
                "invalid_grant",
                "round {round}"
            );
            let access = refreshed["access_token"].as_str().unwrap();
            assert_eq!(
                introspect(&app, &resource, access).await["active"],
                false,
                "round {round}"
            );
        }
        assert_eq!(
            refresh(&app, &token).await.json::<Value>().await.unwrap()["error"],
            "invalid_grant",
            "round {round}"
        );
    }
}

#[tokio::test]
async fn revoking_an_access_token_blocklists_it_and_revoke_answers_200_for_unknown_or_foreign_tokens(
) {
    let app = spawn_app().await;
    let resource = introspector(&app).await;
    let first = login(&app, "ned@example.com").await;
    let access = first["access_token"].as_str().unwrap();
    let active = introspect(&app, &resource, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], "spa");
    assert!(active["sub"].is_string() && active["jti"].is_string() && active["exp"].is_i64());

    let foreign = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&resource.0, Some(&resource.1))
        .form(&[("token", access)])
        .fetch()
        .await;
    assert_eq!(foreign.status(), StatusCode::OK);
    assert_eq!(
        introspect(&app, &resource, access).await["active"],
        true,
        "another client cannot revoke it"
    );

    let own = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[
            ("token", access),
            ("client_id", "spa"),
            ("token_type_hint", "access_token"),
        ])
        .fetch()
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &resource, access).await["active"], false);
    assert_eq!(
        app.http
            .get(app.url("/oauth2/userinfo"))
            .bearer_auth(access)
            .fetch()
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let unknown = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", "whatever"), ("client_id", "spa")])
        .fetch()
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);
    assert_eq!(
        introspect(&app, &resource, "garbage").await,
        serde_json::json!({"active": false})
    );
    let unauthenticated = app
        .http
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", access)])
        .fetch()
        .await;
    assert_eq!(
        unauthenticated.status(),
        StatusCode::BAD_REQUEST,
        "client_id is required"
    );
}

#[tokio::test]
async fn redis_going_away_during_refresh_answers_503_and_recovers_without_a_restart() {
    let upstream: std::net::SocketAddr =
        redis_url().trim_start_matches("redis://").parse().unwrap();
    let mut proxy = Proxy::to(upstream).await;
    let proxied = format!("redis://{}", proxy.addr);
    let app = spawn_on(Arc::new(TestDb::new().await), &[("redis_url", &proxied)]).await;
    let first = login(&app, "ola@example.com").await;
    let token = first["refresh_token"].as_str().unwrap();

    proxy.cut();
    let down = refresh(&app, token).await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().get("retry-after").is_some());
    assert!(
        !down.text().await.unwrap().contains("tsr_"),
        "no token issued while Redis is down"
    );

    proxy = proxy.restart().await;
    let mut recovered = None;
    for _ in 0..20 {
        let response = refresh(&app, token).await;
        if response.status() == StatusCode::OK {
            recovered = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        recovered.is_some(),
        "refresh works again once Redis is back"
    );
    drop(proxy);
}

#[tokio::test]
async fn discovery_lists_revocation_and_introspection() {
    let app = spawn_app().await;
    let doc: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .fetch_json()
        .await;
    assert_eq!(
        doc["revocation_endpoint"],
        "http://127.0.0.1:8080/oauth2/revoke"
    );
    assert_eq!(
        doc["introspection_endpoint"],
        "http://127.0.0.1:8080/oauth2/introspect"
    );
}

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

#[tokio::test]
async fn users_see_their_sessions_and_can_end_one_but_not_someone_elses() {
    let app = spawn_app().await;
    let resource = introspector(&app).await;
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
        refresh(&app, other["refresh_token"].as_str().unwrap())
            .await
            .status(),
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
        refresh(&app, phone["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        introspect(&app, &resource, phone["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        introspect(&app, &resource, laptop["access_token"].as_str().unwrap()).await["active"],
        true
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_ends_other_sessions_and_cuts_off_old_tokens() {
    let app = spawn_app().await;
    let resource = introspector(&app).await;
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

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // cutoff has 1 s resolution
    assert_eq!(
        change(STRONG_PASSWORD, "Vivid-Orchard-Lantern-4821")
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        refresh(&app, elsewhere["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::BAD_REQUEST,
        "other sessions end"
    );
    assert_eq!(
        introspect(&app, &resource, access).await["active"],
        false,
        "tokens issued before the change are cut off"
    );
    let renewed = refresh(&app, here["refresh_token"].as_str().unwrap()).await;
    assert_eq!(renewed.status(), StatusCode::OK, "this session continues");
    let renewed: Value = renewed.json().await.unwrap();
    assert_eq!(
        introspect(&app, &resource, renewed["access_token"].as_str().unwrap()).await["active"],
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

#[tokio::test]
async fn spa_logout_also_blocklists_the_presented_access_token() {
    let origin = "https://app.example.com";
    let app = spawn_with(&[("cors_origins", origin)]).await;
    let resource = introspector(&app).await;
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
    assert_eq!(introspect(&app, &resource, &access).await["active"], false);
}

#[tokio::test]
async fn a_cached_verification_still_expires_and_a_tampered_copy_is_still_refused() {
    let clock = Arc::new(tessera::clock::FixedClock::starting_now());
    let app = crate::helpers::try_spawn_on(Arc::new(TestDb::new().await), &[], clock.clone())
        .await
        .unwrap();
    let resource = introspector(&app).await;
    let issued: Value = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &resource.0),
            ("client_secret", &resource.1),
        ])
        .await
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &resource, &token).await["active"], true);
    assert_eq!(
        introspect(&app, &resource, &token).await["active"],
        true,
        "served from the cache"
    );

    // flip a character well inside the signature (the last one may only carry padding bits)
    let mut chars: Vec<char> = token.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert_eq!(
        introspect(&app, &resource, &tampered).await["active"],
        false
    );

    clock.advance(std::time::Duration::from_secs(20 * 60));
    assert_eq!(
        introspect(&app, &resource, &token).await["active"],
        false,
        "expired despite the cache"
    );
}

#[tokio::test]
async fn a_session_past_its_absolute_lifetime_cannot_be_refreshed() {
    let clock = Arc::new(tessera::clock::FixedClock::starting_now());
    let app = crate::helpers::try_spawn_on(
        Arc::new(TestDb::new().await),
        &[("refresh_absolute_ttl", "3600")],
        clock.clone(),
    )
    .await
    .unwrap();
    let first = login(&app, "tess@example.com").await;
    let token = first["refresh_token"].as_str().unwrap();
    clock.advance(std::time::Duration::from_secs(1800));
    let renewed: Value = refresh(&app, token).await.json().await.unwrap();
    let token = renewed["refresh_token"]
        .as_str()
        .expect("within the lifetime")
        .to_owned();

    clock.advance(std::time::Duration::from_secs(1801));
    let expired = refresh(&app, &token).await;
    assert_eq!(
        expired.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

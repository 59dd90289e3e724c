//! RFC 9068, book § Endpoints, RFC 6749: refresh rotation with retry grace and reuse detection, revocation,
//! introspection, the blocklist, and what happens under races and Redis outages.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use tessera::clock::FixedClock;

use crate::helpers::{
    backends, redis_url, spawn_backend, spawn_on, spawn_on_clock, Backend, Fetch, Proxy, TestDb,
};

#[apply(backends)]
#[tokio::test]
async fn fifty_concurrent_refreshes_within_grace_all_get_the_same_new_token_and_rotate_once(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[("refresh_grace", "10")]).await;
    let first = app.new_user_tokens("jo@example.com").await;
    let token = first["refresh_token"].as_str().unwrap().to_owned();

    let attempts = (0..50).map(|_| app.refresh(&token));
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
    let next = app.refresh(&new).await;
    assert_eq!(next.status(), StatusCode::OK, "the family stayed alive");
}

#[apply(backends)]
#[tokio::test]
async fn a_token_reused_after_the_grace_window_revokes_the_family_its_access_tokens_and_is_audited(
    backend: Backend,
) {
    let clock = Arc::new(FixedClock::starting_now());
    let db = Arc::new(TestDb::on(backend).await);
    let app = spawn_on_clock(db, &[("refresh_grace", "1")], clock.clone()).await;
    let resource = app.resource_server().await;
    let first = app.new_user_tokens("kim@example.com").await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    let rotated: Value = app.refresh(&old).await.json().await.unwrap();
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect_as(&resource, &access).await["active"], true);

    clock.advance(std::time::Duration::from_millis(2100));
    let reuse = app.refresh(&old).await;
    assert_eq!(reuse.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        reuse.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    let current = app
        .refresh(rotated["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        current.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "the whole family is revoked"
    );
    assert_eq!(
        app.introspect_as(&resource, &access).await,
        serde_json::json!({"active": false})
    );
    let userinfo = app
        .http
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(&access)
        .fetch()
        .await;
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);

    let (_, page) = app
        .admin_json(
            reqwest::Method::GET,
            "/admin/audit?type=refresh_token_reuse",
            None,
        )
        .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["client_id"], "spa");
    assert_eq!(events[0]["ip"], "127.0.0.1");
    assert!(events[0]["detail"]["family"].is_string());
}

#[apply(backends)]
#[tokio::test]
async fn a_forged_token_with_a_known_session_id_is_rejected_without_revoking_the_session(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    let first = app.new_user_tokens("lee@example.com").await;
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
        app.refresh(&forged).await.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(
        app.refresh_status(real).await,
        StatusCode::OK,
        "the real session survives"
    );
}

/// Postgres + Redis only: it runs two instances on one store.
#[tokio::test]
async fn rotating_on_one_instance_and_reusing_on_another_is_detected() {
    let db = Arc::new(TestDb::new().await);
    let a = spawn_on(db.clone(), &[("refresh_grace", "0")]).await;
    let b = spawn_on(db.clone(), &[("refresh_grace", "0")]).await;
    let first = a.new_user_tokens("max@example.com").await;
    let old = first["refresh_token"].as_str().unwrap();
    let rotated: Value = a.refresh(old).await.json().await.unwrap();

    let reuse = b.refresh(old).await;
    assert_eq!(
        reuse.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let after = a.refresh(rotated["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        after.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "revoked for both"
    );
}

#[apply(backends)]
#[tokio::test]
async fn revoke_racing_refresh_always_ends_with_the_family_revoked(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let resource = app.resource_server().await;
    for round in 0..10 {
        let first = app
            .new_user_tokens(&format!("race{round}@example.com"))
            .await;
        let token = first["refresh_token"].as_str().unwrap().to_owned();
        let revoke = app
            .http
            .post(app.url("/oauth2/revoke"))
            .form(&[("token", token.as_str()), ("client_id", "spa")])
            .send();
        let (revoked, refreshed) = tokio::join!(revoke, app.refresh(&token));
        assert_eq!(revoked.unwrap().status(), StatusCode::OK);
        let refreshed: Value = refreshed.json().await.unwrap();
        if let Some(new) = refreshed["refresh_token"].as_str() {
            assert_eq!(
                app.refresh(new).await.json::<Value>().await.unwrap()["error"],
                "invalid_grant",
                "round {round}"
            );
            let access = refreshed["access_token"].as_str().unwrap();
            assert_eq!(
                app.introspect_as(&resource, access).await["active"],
                false,
                "round {round}"
            );
        }
        assert_eq!(
            app.refresh(&token).await.json::<Value>().await.unwrap()["error"],
            "invalid_grant",
            "round {round}"
        );
    }
}

#[apply(backends)]
#[tokio::test]
async fn revoking_an_access_token_blocklists_it_and_revoke_answers_200_for_unknown_or_foreign_tokens(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[]).await;
    let resource = app.resource_server().await;
    let first = app.new_user_tokens("ned@example.com").await;
    let access = first["access_token"].as_str().unwrap();
    let active = app.introspect_as(&resource, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], "spa");
    assert!(active["sub"].is_string() && active["jti"].is_string() && active["exp"].is_i64());

    let foreign = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&resource.0, resource.1.as_deref())
        .form(&[("token", access)])
        .fetch()
        .await;
    assert_eq!(foreign.status(), StatusCode::OK);
    assert_eq!(
        app.introspect_as(&resource, access).await["active"],
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
    assert_eq!(app.introspect_as(&resource, access).await["active"], false);
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
        app.introspect_as(&resource, "garbage").await,
        serde_json::json!({"active": false})
    );
    let unauthenticated = app
        .http
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", access)])
        .fetch()
        .await;
    // RFC 6749 §5.2: no client authentication at all is invalid_client
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unauthenticated.headers()["www-authenticate"],
        "Basic realm=\"tessera\""
    );
    let body: serde_json::Value = unauthenticated.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

/// Postgres + Redis only: it is about Redis.
#[tokio::test]
async fn redis_going_away_during_refresh_answers_503_and_recovers_without_a_restart() {
    let upstream: std::net::SocketAddr =
        redis_url().trim_start_matches("redis://").parse().unwrap();
    let mut proxy = Proxy::to(upstream).await;
    let proxied = format!("redis://{}", proxy.addr);
    let app = spawn_on(Arc::new(TestDb::new().await), &[("redis_url", &proxied)]).await;
    let first = app.new_user_tokens("ola@example.com").await;
    let token = first["refresh_token"].as_str().unwrap();

    proxy.cut();
    let down = app.refresh(token).await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().get("retry-after").is_some());
    assert!(
        !down.text().await.unwrap().contains("tsr_"),
        "no token issued while Redis is down"
    );

    proxy = proxy.restart().await;
    let mut recovered = None;
    for _ in 0..20 {
        let response = app.refresh(token).await;
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

#[apply(backends)]
#[tokio::test]
async fn discovery_lists_revocation_and_introspection(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let doc: Value = app.discovery().await;
    assert_eq!(
        doc["revocation_endpoint"],
        "http://127.0.0.1:8080/oauth2/revoke"
    );
    assert_eq!(
        doc["introspection_endpoint"],
        "http://127.0.0.1:8080/oauth2/introspect"
    );
}

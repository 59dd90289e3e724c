//! Details that real clients and certification suites check (RFC 6749 §5.2, RFC 6750, RFC 7662): Go's
//! golang.org/x/oauth2 sending a public client as Basic with an empty password, no
//! client authentication at all, tokens that expire exactly at `exp`, introspection
//! without an empty `scope`, and the hosted pages' icon.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tessera::clock::FixedClock;

use crate::helpers::{try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD};

async fn spawn(clock: Arc<FixedClock>) -> TestApp {
    try_spawn_on(Arc::new(TestDb::on(Backend::Embedded).await), &[], clock)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_public_client_sent_as_basic_with_an_empty_password_is_the_public_client() {
    let app = spawn(Arc::new(FixedClock::starting_now())).await;
    app.user("go@example.com").await;
    // what golang.org/x/oauth2 sends first: `Authorization: Basic base64("spa:")`
    let answer = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth("spa", Some(""))
        .form(&[
            ("grant_type", "password"),
            ("username", "go@example.com"),
            ("password", STRONG_PASSWORD),
            ("scope", "openid"),
        ])
        .fetch()
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let tokens: Value = answer.json().await.unwrap();
    let refreshed = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth("spa", Some(""))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .fetch()
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    // a confidential client is not authenticated by an empty password
    let (id, _) = app.resource_server().await;
    let empty = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(""))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await;
    assert_eq!(empty.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_client_authentication_at_all_is_invalid_client_with_www_authenticate() {
    let app = spawn(Arc::new(FixedClock::starting_now())).await;
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let answer = app
            .http
            .post(app.url(path))
            .form(&[("grant_type", "client_credentials"), ("token", "x")])
            .fetch()
            .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            answer.headers()["www-authenticate"],
            "Basic realm=\"tessera\""
        );
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{path}: {body}");
    }
}

#[tokio::test]
async fn an_access_token_is_inactive_from_its_exp_on_without_leeway() {
    let clock = Arc::new(FixedClock::starting_now());
    let app = spawn(clock.clone()).await;
    let reader = app.resource_server().await;
    let tokens = app.new_user_tokens("exp@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = crate::helpers::claims(access);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(app.introspect_as(&reader, access).await["active"], true);

    // one second past exp: well inside TESSERA_CLOCK_LEEWAY (30 s), still expired
    clock.advance(Duration::from_secs(lifetime as u64 + 1));
    assert_eq!(app.introspect_as(&reader, access).await["active"], false);
    for path in ["/oauth2/userinfo", "/api/v1/me"] {
        let answer = app
            .http
            .get(app.url(path))
            .bearer_auth(access)
            .fetch()
            .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn introspection_leaves_out_the_scope_of_a_token_without_one() {
    let app = spawn(Arc::new(FixedClock::starting_now())).await;
    let reader = app.machine_client(&[], &[]).await;
    let token: Value = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&reader.0, reader.1.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .fetch_json()
        .await;
    let body = app
        .introspect_as(&reader, token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(body["active"], true, "{body}");
    assert!(crate::helpers::claims(token["access_token"].as_str().unwrap())["scope"] == "");
    assert!(body.get("scope").is_none(), "{body}");
}

#[tokio::test]
async fn every_hosted_page_declares_an_icon_that_is_served() {
    let app = spawn(Arc::new(FixedClock::starting_now())).await;
    let page = app
        .http
        .get(app.url("/oauth2/authorize?client_id=nobody"))
        .fetch()
        .await
        .text()
        .await
        .unwrap();
    let marker = "<link rel=\"icon\" href=\"";
    let start = page.find(marker).expect("an icon is declared") + marker.len();
    let href = &page[start..start + page[start..].find('"').unwrap()];
    for path in [href, "/favicon.ico"] {
        let icon = app.http.get(app.url(path)).fetch().await;
        assert_eq!(icon.status(), StatusCode::OK, "{path}");
        assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    }
}

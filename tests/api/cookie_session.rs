//! book § Endpoints: the SPA session API with the refresh token in a locked-down cookie.

use reqwest::StatusCode;
use rstest_reuse::apply;
use serde_json::Value;

use crate::helpers::{backends, spawn_backend, Backend, Fetch, TestApp, STRONG_PASSWORD};

const ORIGIN: &str = "https://app.example.com";

async fn app(backend: Backend) -> TestApp {
    spawn_backend(backend, &[("cors_origins", ORIGIN)]).await
}

fn refresh_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_rt="))
}

async fn login(app: &TestApp, origin: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/api/v1/session"))
        .json(&serde_json::json!({"email": "hana@example.com", "password": STRONG_PASSWORD}));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.fetch().await
}

#[apply(backends)]
#[tokio::test]
async fn login_puts_the_refresh_token_only_in_a_locked_down_cookie_and_refresh_and_logout_use_it(
    backend: Backend,
) {
    let app = app(backend).await;
    app.user("hana@example.com").await;

    let response = login(&app, Some(ORIGIN)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        response.headers()["access-control-allow-credentials"],
        "true"
    );
    let cookie = refresh_cookie(&response).expect("refresh cookie");
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/v1/session",
    ] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let body: Value = response.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "never in the body");
    let access = body["access_token"].as_str().unwrap();

    let me: Value = app
        .http
        .get(app.url("/api/v1/me"))
        .bearer_auth(access)
        .fetch_json()
        .await;
    assert_eq!(me["email"], "hana@example.com");

    let value = cookie.split(';').next().unwrap().to_owned();
    let refreshed = app.spa_refresh(ORIGIN, &value).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let rotated = refresh_cookie(&refreshed).unwrap();
    let rotated_value = rotated.split(';').next().unwrap().to_owned();
    assert_ne!(rotated_value, value);

    let old = app.spa_refresh(ORIGIN, &value).await;
    assert_eq!(
        old.status(),
        StatusCode::OK,
        "a retry within the grace window succeeds"
    );
    let retried = refresh_cookie(&old).unwrap();
    assert_eq!(
        retried.split(';').next().unwrap(),
        rotated_value,
        "with the same new token"
    );

    let logout = app
        .spa_call(
            reqwest::Method::DELETE,
            "/api/v1/session",
            ORIGIN,
            Some(&rotated_value),
        )
        .fetch()
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert!(
        refresh_cookie(&logout).unwrap().contains("Max-Age=0"),
        "cookie cleared"
    );
    let after = app.spa_refresh(ORIGIN, &rotated_value).await;
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the session is over"
    );
}

#[apply(backends)]
#[tokio::test]
async fn cookie_endpoints_refuse_a_missing_or_foreign_origin(backend: Backend) {
    let app = app(backend).await;
    app.user("hana@example.com").await;
    for origin in [None, Some("https://evil.example.com")] {
        let response = login(&app, origin).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin:?}");
        assert!(refresh_cookie(&response).is_none());
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"],
            "origin_not_allowed"
        );
    }
    let refresh = app
        .spa_call(
            reqwest::Method::POST,
            "/api/v1/session/refresh",
            "https://evil.example.com",
            None,
        )
        .fetch()
        .await;
    assert_eq!(refresh.status(), StatusCode::FORBIDDEN);
    let logout = app.http.delete(app.url("/api/v1/session")).fetch().await;
    assert_eq!(logout.status(), StatusCode::FORBIDDEN);
}

#[apply(backends)]
#[tokio::test]
async fn a_client_that_is_not_first_party_cannot_log_users_in_through_the_spa_api(
    backend: Backend,
) {
    let app = app(backend).await;
    app.user("hana@example.com").await;
    let (id, _) = app
        .client(&["password", "refresh_token"], false, false)
        .await;
    let response = app.spa_call(reqwest::Method::POST, "/api/v1/session", ORIGIN, None)
        .json(&serde_json::json!({"email": "hana@example.com", "password": STRONG_PASSWORD, "client_id": id})).fetch().await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

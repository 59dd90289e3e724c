//! Issue 12 (RFC 6749, book § Endpoints, book § Configuration): what a client must prove. The SPA cookie API serves only
//! public first-party clients; nobody can lock a client out by failing to authenticate as
//! it; only confidential clients introspect; unknown client ids do not reach the database
//! on every request.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};

use crate::helpers::{
    backends, spawn_backend, spawn_on, Backend, Fetch, Proxy, TestApp, TestDb, STRONG_PASSWORD,
};

const ORIGIN: &str = "https://app.example.com";

async fn spa_login(app: &TestApp, client_id: &str) -> reqwest::Response {
    app.spa_call(reqwest::Method::POST, "/api/v1/session", ORIGIN, None)
        .json(
            &json!({"email": "c@example.com", "password": STRONG_PASSWORD, "client_id": client_id}),
        )
        .fetch()
        .await
}

async fn cookie_refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.spa_refresh(ORIGIN, &format!("tessera_rt={refresh_token}"))
        .await
}

fn cookie_value(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("tessera_rt="))
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
}

#[apply(backends)]
#[tokio::test]
async fn the_cookie_api_refuses_confidential_clients_and_rotates_only_families_it_may(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[("cors_origins", ORIGIN)]).await;
    app.user("c@example.com").await;
    let (confidential, secret) = app
        .client(&["password", "refresh_token"], false, true)
        .await;
    let secret = secret.unwrap();

    // no secret, no tokens: a confidential client's id alone gets nothing here
    let refused = spa_login(&app, &confidential).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(cookie_value(&refused).is_none());
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "client_not_allowed"
    );

    // a refresh token the confidential client got with its secret cannot be rotated
    // through the cookie endpoint (which takes no secret), and is not spent by trying
    let tokens: Value = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&confidential, Some(&secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "c@example.com"),
            ("password", STRONG_PASSWORD),
        ])
        .fetch_json()
        .await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let through_cookie = cookie_refresh(&app, refresh_token).await;
    assert_eq!(through_cookie.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_value(&through_cookie).is_none());
    let with_secret = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&confidential, Some(&secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .fetch()
        .await;
    assert_eq!(with_secret.status(), StatusCode::OK, "the family is intact");

    // a public first-party client without the password grant cannot sign users in here
    let (no_password, _) = app.client(&["refresh_token"], true, true).await;
    assert_eq!(
        spa_login(&app, &no_password).await.status(),
        StatusCode::FORBIDDEN
    );

    // a public first-party client works until it loses the refresh_token grant
    let (public, _) = app.client(&["password", "refresh_token"], true, true).await;
    let login = spa_login(&app, &public).await;
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = cookie_value(&login).unwrap();
    let rotated = cookie_refresh(&app, &cookie).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let cookie = cookie_value(&rotated).unwrap();
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/admin/clients/{public}"),
            Some(json!({"grant_types": ["password"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        cookie_refresh(&app, &cookie).await.status(),
        StatusCode::UNAUTHORIZED,
        "the family's client no longer allows refresh_token"
    );
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str, ip: &str) -> StatusCode {
    app.http
        .post(app.url("/oauth2/token"))
        .header("x-forwarded-for", ip)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await
        .status()
}

#[apply(backends)]
#[tokio::test]
async fn failed_client_authentications_are_limited_per_address_and_never_lock_the_client_out(
    backend: Backend,
) {
    let app = spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("rate_limit_client_auth_failures", "3/60"),
            ("trusted_proxies", "127.0.0.1/32"),
        ],
    )
    .await;
    let (id, secret) = app.client(&["client_credentials"], false, false).await;
    let secret = secret.unwrap();
    let attacker = "198.51.100.7";
    let owner = "203.0.113.9";

    for _ in 0..3 {
        assert_eq!(
            client_credentials(&app, &id, "guess", attacker).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        client_credentials(&app, &id, "guess", attacker).await,
        StatusCode::TOO_MANY_REQUESTS,
        "guessing from one address is cut off"
    );
    assert_eq!(
        client_credentials(&app, &id, &secret, attacker).await,
        StatusCode::TOO_MANY_REQUESTS,
        "even a right guess from that address is refused while it is blocked"
    );
    // the real client, elsewhere, is not locked out, and its successes are not counted:
    // far more requests than the failure allowance all succeed
    for _ in 0..40 {
        assert_eq!(
            client_credentials(&app, &id, &secret, owner).await,
            StatusCode::OK
        );
    }
    // the same failures count at the revocation and introspection endpoints
    let introspect = app
        .http
        .post(app.url("/oauth2/introspect"))
        .header("x-forwarded-for", attacker)
        .basic_auth(&id, Some("guess"))
        .form(&[("token", "x")])
        .fetch()
        .await;
    assert_eq!(introspect.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(introspect.headers().contains_key("retry-after"));

    // refreshes by the public `spa` client (every user together) are not limited at all
    app.user("many@example.com").await;
    let mut refresh_token = app.login("many@example.com", "openid").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..30 {
        let response = app.refresh(&refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        refresh_token = response.json::<Value>().await.unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
    }
}

#[apply(backends)]
#[tokio::test]
async fn only_confidential_clients_may_introspect(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    app.user("i@example.com").await;
    let access = app.login("i@example.com", "openid").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let public = app
        .http
        .post(app.url("/oauth2/introspect"))
        .form(&[("client_id", "spa"), ("token", access.as_str())])
        .fetch()
        .await;
    assert_eq!(public.status(), StatusCode::UNAUTHORIZED);
    assert!(public.headers().contains_key("www-authenticate"));
    let body: Value = public.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(body.get("sub").is_none() && body.get("active").is_none());

    let confidential = app.client(&["client_credentials"], false, false).await;
    assert_eq!(
        app.introspect_as(&confidential, &access).await["active"],
        true
    );

    let discovery = app.get_json("/.well-known/openid-configuration").await;
    let methods = discovery["introspection_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(!methods.contains(&json!("none")), "{methods:?}");
}

/// Postgres + Redis only: it counts the bytes sent to Postgres through a proxy.
#[tokio::test]
async fn an_unknown_client_id_repeated_costs_one_lookup_not_one_per_request() {
    let db = Arc::new(TestDb::new().await);
    let proxy = Proxy::to(crate::helpers::pg_addr()).await;
    let url = crate::helpers::db_url_via(&db, &proxy);
    let app = spawn_on(
        db,
        &[
            ("database_url", &url),
            ("keyring_poll_interval", "60"),
            ("rate_limit_client_auth_failures", "0"),
        ],
    )
    .await;
    let probe = |id: String| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/oauth2/token"))
                .form(&[("grant_type", "client_credentials"), ("client_id", &id)])
                .fetch()
                .await
                .status()
        }
    };
    // the key-ring poll's first tick runs at start; let it pass
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = proxy.bytes_sent();
    assert_eq!(
        probe("first-unknown".into()).await,
        StatusCode::UNAUTHORIZED
    );
    let one_lookup = proxy.bytes_sent() - before;
    assert!(one_lookup > 0);
    let before = proxy.bytes_sent();
    for _ in 0..100 {
        assert_eq!(
            probe("first-unknown".into()).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // not one lookup more: the cache answers. ("Nothing at all" would be the wrong measure:
    // the first lookup's prepared statement is closed after its answer, and those 15 bytes
    // can cross the proxy inside the measured window.)
    let spent = proxy.bytes_sent() - before;
    assert!(
        spent < one_lookup,
        "100 requests for a cached unknown id sent {spent} bytes to Postgres ({one_lookup} per lookup)"
    );
}

#[apply(backends)]
#[tokio::test]
async fn a_deleted_clients_own_tokens_stop_introspecting_as_active(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let (service, service_secret) = app.client(&["client_credentials"], false, false).await;
    let token: Value = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&service, service_secret)
        .form(&[("grant_type", "client_credentials")])
        .fetch_json()
        .await;
    let token = token["access_token"].as_str().unwrap();
    let (resource, resource_secret) = app.client(&["client_credentials"], false, false).await;
    let resource = (resource, resource_secret);
    assert_eq!(app.introspect_as(&resource, token).await["active"], true);
    let (status, _) = app
        .admin_json(Method::DELETE, &format!("/admin/clients/{service}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.introspect_as(&resource, token).await["active"], false);
}

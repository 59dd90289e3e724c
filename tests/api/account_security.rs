//! Issue 12 (book § Endpoints, book § Configuration): the account API takes only its own tokens and asks again
//! before the second factor changes; a stranger cannot lock an owner out; imported hashes
//! cannot pin the hashing pool.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::FixedClock;

use crate::helpers::{
    backends, spawn_on, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD,
};

const WRONG: &str = "Wrong-password-but-long-1";

/// A request with a body of the right shape for `path`, so only the token can fail it.
async fn bearer(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::Response {
    let body = match path {
        "/api/v1/me/mfa/recovery-codes" => json!({"code": "123456"}),
        "/api/v1/me/password" => {
            json!({"current_password": STRONG_PASSWORD, "new_password": "a-New-long-passphrase-88"})
        }
        _ => json!({}),
    };
    app.http
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .fetch()
        .await
}

#[apply(backends)]
#[tokio::test]
async fn the_account_api_refuses_tokens_for_other_audiences_and_third_party_clients(
    backend: Backend,
) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    app.user("aud@example.com").await;
    // a first-party client whose tokens are for another service (`aud` is not tessera)
    let (payments, secret) = app
        .client(&["password", "refresh_token"], false, true)
        .await;
    let secret = secret.unwrap();
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/admin/clients/{payments}"),
            Some(json!({"audiences": ["https://payments.example"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let foreign = app
        .client_password_grant(&payments, &secret, "aud@example.com", "openid")
        .await;
    let foreign = foreign["access_token"].as_str().unwrap();
    assert_eq!(
        crate::helpers::claims(foreign)["aud"],
        json!("https://payments.example")
    );
    for (method, path) in [
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/me/sessions"),
        (Method::DELETE, "/api/v1/me/sessions/some-session"),
        (Method::POST, "/api/v1/me/mfa/totp"),
        (Method::POST, "/api/v1/me/mfa/recovery-codes"),
        (Method::POST, "/api/v1/me/password"),
    ] {
        let response = bearer(&app, method.clone(), path, foreign).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    // the resource server it was minted for still sees it as active
    let (introspector, introspector_secret) =
        app.client(&["client_credentials"], false, false).await;
    app.admin_json(
        Method::PATCH,
        &format!("/admin/clients/{introspector}"),
        Some(json!({"audiences": ["https://payments.example"]})),
    )
    .await;
    assert_eq!(
        app.introspect_as(&(introspector, introspector_secret), foreign)
            .await["active"],
        true
    );

    // the SPA's token (aud = the issuer, first-party client) works...
    let own = app.login("aud@example.com", "openid").await;
    let own = own["access_token"].as_str().unwrap();
    assert_eq!(
        bearer(&app, Method::GET, "/api/v1/me", own).await.status(),
        StatusCode::OK
    );
    // ...until its client stops being first-party
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            "/admin/clients/spa",
            Some(json!({"first_party": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bearer(&app, Method::GET, "/api/v1/me", own).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn setup(app: &TestApp, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/api/v1/me/mfa/totp"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.fetch().await
}

#[apply(backends)]
#[tokio::test]
async fn changing_the_second_factor_needs_a_recent_sign_in_or_the_password_and_ends_other_sessions(
    backend: Backend,
) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(Arc::new(TestDb::on(backend).await), &[], clock.clone())
        .await
        .unwrap();
    app.user("fresh@example.com").await;
    let other = app.login("fresh@example.com", "openid").await;
    let this = app.login("fresh@example.com", "openid").await;
    let access = this["access_token"].as_str().unwrap();

    clock.advance(Duration::from_secs(6 * 60));
    let stale = setup(&app, access, None).await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        stale.json::<Value>().await.unwrap()["error"],
        "reauthentication_required"
    );
    let wrong = setup(&app, access, Some(json!({"password": WRONG}))).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let with_password = setup(&app, access, Some(json!({"password": STRONG_PASSWORD}))).await;
    assert_eq!(with_password.status(), StatusCode::OK);
    let secret = with_password.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let code = crate::helpers::pyotp_code(&secret, &clock);
    let stale_confirm = app
        .http
        .post(app.url("/api/v1/me/mfa/totp/confirm"))
        .bearer_auth(access)
        .json(&json!({"code": code}))
        .fetch()
        .await;
    assert_eq!(stale_confirm.status(), StatusCode::FORBIDDEN);
    let confirmed = app
        .http
        .post(app.url("/api/v1/me/mfa/totp/confirm"))
        .bearer_auth(access)
        .json(&json!({"code": code, "password": STRONG_PASSWORD}))
        .fetch()
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);

    // the other session ended; this one goes on
    assert_eq!(
        app.refresh_status(other["refresh_token"].as_str().unwrap())
            .await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.refresh_status(this["refresh_token"].as_str().unwrap())
            .await,
        StatusCode::OK
    );
}

async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> StatusCode {
    app.http
        .post(app.url("/oauth2/token"))
        .header("x-forwarded-for", ip)
        .form(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", email),
            ("password", password),
        ])
        .fetch()
        .await
        .status()
}

#[apply(backends)]
#[tokio::test]
async fn a_strangers_guesses_lock_only_the_strangers_network(backend: Backend) {
    let app = spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("rate_limit_login_ip", "0"),
            ("trusted_proxies", "127.0.0.1/32"),
        ],
    )
    .await;
    app.user("owner@example.com").await;
    let email = "owner@example.com";
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(login_from(&app, "198.51.100.7", email, WRONG).await);
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // the whole /24 is the stranger's network
    assert_eq!(
        login_from(&app, "198.51.100.200", email, STRONG_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // the owner, elsewhere, signs in
    assert_eq!(
        login_from(&app, "203.0.113.5", email, STRONG_PASSWORD).await,
        StatusCode::OK
    );
    // IPv6: one /64 is one network
    for _ in 0..7 {
        login_from(&app, "2001:db8:1:2::1", email, WRONG).await;
    }
    assert_eq!(
        login_from(&app, "2001:db8:1:2:ffff::9", email, STRONG_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "2001:db8:1:3::1", email, STRONG_PASSWORD).await,
        StatusCode::OK
    );
}

#[apply(backends)]
#[tokio::test]
async fn the_account_ceiling_stops_new_networks_but_not_the_owners_known_one(backend: Backend) {
    let app = spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("rate_limit_login_ip", "0"),
            ("lockout_threshold", "100"),
            ("lockout_account_ceiling", "4/3600"),
            ("trusted_proxies", "127.0.0.1/32"),
        ],
    )
    .await;
    app.user("busy@example.com").await;
    let email = "busy@example.com";
    assert_eq!(
        login_from(&app, "203.0.113.5", email, STRONG_PASSWORD).await,
        StatusCode::OK,
        "the owner's network becomes known"
    );
    // the owner's sign-in spent one of the four; three strangers' guesses spend the rest
    for n in 1..=3 {
        assert_eq!(
            login_from(&app, &format!("198.51.{n}.1"), email, WRONG).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        login_from(&app, "198.51.9.1", email, WRONG).await,
        StatusCode::TOO_MANY_REQUESTS,
        "past the ceiling, a new network is refused"
    );
    assert_eq!(
        login_from(&app, "192.0.2.1", email, STRONG_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "even with the right password"
    );
    assert_eq!(
        login_from(&app, "203.0.113.77", email, STRONG_PASSWORD).await,
        StatusCode::OK,
        "the network the owner signed in from is exempt"
    );
}

#[apply(backends)]
#[tokio::test]
async fn login_limits_per_address_count_an_ipv6_slash_64_as_one_address(backend: Backend) {
    let app = spawn_on(
        Arc::new(TestDb::on(backend).await),
        &[
            ("rate_limit_login_ip", "2/60"),
            ("lockout_threshold", "0"),
            ("trusted_proxies", "127.0.0.1/32"),
        ],
    )
    .await;
    assert_eq!(
        login_from(&app, "2001:db8::1", "a@example.com", WRONG).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login_from(&app, "2001:db8::2", "b@example.com", WRONG).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        login_from(&app, "2001:db8::ffff:3", "c@example.com", WRONG).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "2001:db8:0:1::1", "d@example.com", WRONG).await,
        StatusCode::BAD_REQUEST,
        "another /64 is another address"
    );
}

#[apply(backends)]
#[tokio::test]
async fn imported_hashes_with_absurd_costs_are_refused_and_never_computed(backend: Backend) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let cheap = bcrypt::hash(STRONG_PASSWORD, 4).unwrap();
    let cost_31 = format!("$2b$31${}", &cheap[7..]);
    let lines = [
        json!({"email": "fine@example.com", "password_hash": cheap}),
        json!({"email": "bcrypt31@example.com", "password_hash": cost_31}),
        json!({"email": "argon@example.com", "password_hash": "$argon2id$v=19$m=19456,t=4294967295,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}),
        json!({"email": "memory@example.com", "password_hash": "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}),
    ]
    .map(|l| l.to_string())
    .join("\n");
    let report: Value = app
        .admin_call(Method::POST, "/admin/users/import")
        .header("content-type", "application/x-ndjson")
        .body(lines)
        .fetch_json()
        .await;
    assert_eq!(report["imported"], 1, "{report}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(
        errors
            .iter()
            .map(|e| e["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert!(
        errors[0]["error"].as_str().unwrap().contains("cost 31"),
        "{report}"
    );

    // a hash that got into the database some other way is not computed either: the login
    // is refused like a wrong password, at once, and the pool stays free
    app.store_user("legacy@example.com", &cost_31).await;
    let started = Instant::now();
    let refused = app
        .password_grant("legacy@example.com", STRONG_PASSWORD, "openid")
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        app.password_grant("fine@example.com", STRONG_PASSWORD, "openid")
            .await
            .status(),
        StatusCode::OK
    );
}

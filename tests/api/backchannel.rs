//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0, book § Integrating) end to
//! end: a relying party's endpoint, written with `jose` (`tests/browser/backchannel_rp.mjs`),
//! receives a logout token it verifies for each way a session ends; a receiver that is
//! down gets it after the backoff, even across a `kill -9` of the service; one that
//! refuses it is not asked again; and the client settings are validated like the rest of
//! a client.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::{Clock, FixedClock, SystemClock};
use tessera::service::outbox::backoff;

use crate::embedded::{serve, started};
use crate::helpers::{
    backends, claims, free_port, spawn_backend, spawn_on_clock, BackchannelRp, Backend, Fetch,
    TempDir, TestApp, TestDb, STRONG_PASSWORD,
};

/// The issuer every test app has.
const ISSUER: &str = "http://127.0.0.1:8080";

/// A confidential first-party client with the password grant whose back-channel logout
/// endpoint is `uri`, created through the admin API: (id, secret).
async fn rp_client(app: &TestApp, uri: &str) -> (String, String) {
    app.admin_client(json!({
        "name": "Server-side app",
        "grant_types": ["password", "refresh_token"],
        "scopes": ["openid", "email"],
        "first_party": true,
        "backchannel_logout_uri": uri,
        "backchannel_logout_session_required": true,
    }))
    .await
}

/// A session of `email` at the client: its token response.
async fn session(app: &TestApp, (id, secret): &(String, String), email: &str) -> Value {
    app.client_password_grant(id, secret, email, "openid email")
        .await
}

/// Revokes a refresh token (RFC 7009) as the client.
async fn revoke(app: &TestApp, (id, secret): &(String, String), refresh_token: &str) {
    let answer = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ])
        .fetch()
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
}

fn jwks(app: &TestApp) -> String {
    app.url("/.well-known/jwks.json")
}

#[apply(backends)]
#[tokio::test]
async fn a_revoked_session_reaches_the_relying_party_as_a_logout_token_jose_accepts(
    backend: Backend,
) {
    let app = spawn_backend(backend, &[("email_verification", "off")]).await;
    let port = free_port();
    let client = rp_client(&app, &format!("http://127.0.0.1:{port}/backchannel")).await;
    let rp = BackchannelRp::start(port, ISSUER, &client.0, &jwks(&app)).await;
    app.user("ines@example.com").await;
    let tokens = session(&app, &client, "ines@example.com").await;
    let id_token = claims(tokens["id_token"].as_str().unwrap());

    revoke(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    let seen = rp.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(
        seen[0]["ok"], true,
        "jose refused the logout token: {seen:?}"
    );
    let (header, logout) = (&seen[0]["header"], &seen[0]["claims"]);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    assert_eq!(
        logout["sid"], id_token["sid"],
        "the session the ID token named"
    );
    assert_eq!(logout["sub"], id_token["sub"]);
    assert_eq!(logout["aud"], json!(client.0));
    assert_eq!(logout["iss"], ISSUER);
    assert_eq!(
        logout["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert_eq!(
        logout["exp"].as_i64().unwrap() - logout["iat"].as_i64().unwrap(),
        120
    );
    app.wait_for_metric(r#"tessera_outbox_sent_total{kind="backchannel_logout"} 1"#)
        .await;
    // revoking it again ends nothing, and tells nobody
    revoke(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rp.seen().len(), 1, "one session ends once");
}

#[apply(backends)]
#[tokio::test]
async fn every_way_a_session_ends_reaches_the_back_channel(backend: Backend) {
    // no grace after a rotation: the old token presented again is a reuse at once
    let settings = [("email_verification", "off"), ("refresh_grace", "0")];
    let app = spawn_backend(backend, &settings).await;
    let port = free_port();
    let client = rp_client(&app, &format!("http://127.0.0.1:{port}/backchannel")).await;
    let rp = BackchannelRp::start(port, ISSUER, &client.0, &jwks(&app)).await;
    app.user("noor@example.com").await;
    let sid = |tokens: &Value| claims(tokens["id_token"].as_str().unwrap())["sid"].clone();
    let mut expected = Vec::new();

    // a refresh token presented again after its rotation (reuse detection)
    let reused = session(&app, &client, "noor@example.com").await;
    expected.push(sid(&reused));
    let old = reused["refresh_token"].as_str().unwrap();
    let rotate = |token: &str| {
        app.http
            .post(app.url("/oauth2/token"))
            .basic_auth(&client.0, Some(&client.1))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .fetch()
    };
    assert_eq!(rotate(old).await.status(), StatusCode::OK);
    assert_eq!(rotate(old).await.status(), StatusCode::BAD_REQUEST);
    rp.wait_for(expected.len(), Duration::from_secs(15)).await;

    // an operator ends the user's sessions
    let revoked = session(&app, &client, "noor@example.com").await;
    expected.push(sid(&revoked));
    let user = claims(revoked["id_token"].as_str().unwrap())["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    app.revoke_user_sessions(&user).await;
    rp.wait_for(expected.len(), Duration::from_secs(15)).await;

    // the operator deletes the client: its sessions end, and it hears of them
    let last = session(&app, &client, "noor@example.com").await;
    expected.push(sid(&last));
    let (status, body) = app
        .admin_json(
            Method::DELETE,
            &format!("/admin/clients/{}", client.0),
            None,
        )
        .await;
    assert!(status.is_success(), "{status} {body}");

    let seen = rp.wait_for(expected.len(), Duration::from_secs(15)).await;
    assert!(seen.iter().all(|s| s["ok"] == true), "{seen:?}");
    let sids: Vec<Value> = seen.iter().map(|s| s["claims"]["sid"].clone()).collect();
    assert_eq!(sids, expected, "each session's end, in order, once");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_token_after_the_backoff_and_one_that_refuses_is_not_asked_again(
) {
    // half a minute behind the wall clock, so the tokens signed after the clock is advanced
    // are still not from the future for the receiver, which reads the wall clock
    let clock = Arc::new(FixedClock::new(SystemClock.now() - Duration::from_secs(30)));
    let db = Arc::new(TestDb::on(Backend::Embedded).await);
    let app = spawn_on_clock(db, &[("email_verification", "off")], clock.clone()).await;
    let port = free_port();
    let client = rp_client(&app, &format!("http://127.0.0.1:{port}/backchannel")).await;
    app.user("oda@example.com").await;

    // nothing listens: the first attempt fails, and the message waits for its backoff
    let tokens = session(&app, &client, "oda@example.com").await;
    revoke(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    app.wait_for_metric(
        r#"tessera_outbox_failures_total{kind="backchannel_logout",outcome="retrying"} 1"#,
    )
    .await;
    let rp = BackchannelRp::start(port, ISSUER, &client.0, &jwks(&app)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(rp.seen().is_empty(), "not tried again before its backoff");
    clock.advance(backoff(1));
    let seen = rp.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(seen[0]["ok"], true, "{seen:?}");
    assert_eq!(
        seen[0]["claims"]["sid"],
        claims(tokens["id_token"].as_str().unwrap())["sid"]
    );

    // a receiver that answers 400 (here: one that expects tokens for another client) is
    // not asked again; an operator sees the message as failed
    drop(rp);
    let wrong = BackchannelRp::start(port, ISSUER, "c_someone_else", &jwks(&app)).await;
    let tokens = session(&app, &client, "oda@example.com").await;
    revoke(&app, &client, tokens["refresh_token"].as_str().unwrap()).await;
    let seen = wrong.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(seen[0]["ok"], false);
    app.wait_for_metric(
        r#"tessera_outbox_failures_total{kind="backchannel_logout",outcome="gave_up"} 1"#,
    )
    .await;
    clock.advance(backoff(1) * 4);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(wrong.seen().len(), 1, "a refusal is final");
    let (status, outbox) = app.admin_json(Method::GET, "/admin/outbox", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outbox["failed"], 1, "{outbox}");
    let listed = outbox["failures"][0].clone();
    assert_eq!(listed["kind"], "backchannel_logout", "{outbox}");
    assert!(
        listed["last_error"]
            .as_str()
            .unwrap()
            .contains("answered 400"),
        "{listed}"
    );
}

#[apply(backends)]
#[tokio::test]
async fn back_channel_settings_are_validated_and_can_be_changed(backend: Backend) {
    let app = spawn_backend(backend, &[]).await;
    let create = |extra: Value| {
        let mut body = json!({
            "name": "app",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://app.example.com/cb"],
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.admin_json(Method::POST, "/admin/clients", Some(body))
    };
    for (extra, says) in [
        (
            json!({"public": true, "backchannel_logout_uri": "https://app.example.com/bc"}),
            "needs a confidential client",
        ),
        (
            json!({"backchannel_logout_uri": "http://app.example.com/bc"}),
            "http only for loopback",
        ),
        (
            json!({"backchannel_logout_uri": "https://app.example.com/bc#frag"}),
            "without a fragment",
        ),
        (
            json!({"backchannel_logout_uri": "https://user:pw@app.example.com/bc"}),
            "without a fragment or user information",
        ),
        (
            json!({"backchannel_logout_uri": "/relative"}),
            "absolute https URL",
        ),
        (
            json!({"backchannel_logout_session_required": true}),
            "needs a backchannel_logout_uri",
        ),
    ] {
        let (status, body) = create(extra.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {body}");
        let described = body["error_description"].as_str().unwrap();
        assert!(described.contains(says), "{extra}: {described}");
    }
    let (status, body) = create(json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(body.get("backchannel_logout_uri").is_none(), "{body}");
    assert_eq!(body["backchannel_logout_session_required"], false);
    let path = format!("/admin/clients/{}", body["client_id"].as_str().unwrap());
    let patch = |body: Value| app.admin_json(Method::PATCH, &path, Some(body));
    let (status, body) = patch(json!({
        "backchannel_logout_uri": "https://app.example.com/logout?from=tessera",
        "backchannel_logout_session_required": true
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = app.admin_json(Method::GET, &path, None).await;
    assert_eq!(
        got["backchannel_logout_uri"],
        "https://app.example.com/logout?from=tessera"
    );
    assert_eq!(got["backchannel_logout_session_required"], true);
    // removing the endpoint while `sid` is still required is refused; both together work
    let (status, _) = patch(json!({"backchannel_logout_uri": null})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = patch(json!({
        "backchannel_logout_uri": null,
        "backchannel_logout_session_required": false
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = app.admin_json(Method::GET, &path, None).await;
    assert!(got.get("backchannel_logout_uri").is_none(), "{got}");

    let discovery = app.discovery().await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);
}

#[tokio::test]
async fn a_logout_committed_while_the_receiver_is_down_survives_a_kill_9_and_arrives_once() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let (public, admin, port) = (free_port(), free_port(), free_port());
    let base = format!("http://127.0.0.1:{public}");
    let mut first = started(serve(&data, public, admin), public).await;
    let http = reqwest::Client::new();
    let admin_token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let client: Value = http
        .post(format!("http://127.0.0.1:{admin}/admin/clients"))
        .bearer_auth(admin_token.trim())
        .json(&json!({
            "name": "Server-side app",
            "grant_types": ["password", "refresh_token"],
            "scopes": ["openid"],
            "first_party": true,
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/backchannel"),
        }))
        .fetch_json()
        .await;
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let registered = http
        .post(format!("{base}/api/v1/accounts"))
        .json(&json!({"email": "kai@example.com", "password": STRONG_PASSWORD}))
        .fetch()
        .await;
    assert!(registered.status().is_success());
    let tokens: Value = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "kai@example.com"),
            ("password", STRONG_PASSWORD),
            ("scope", "openid"),
        ])
        .fetch_json()
        .await;
    // the receiver is down: the session ends, its logout is queued, the first attempt fails
    let revoked = http
        .post(format!("{base}/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.kill().unwrap(); // SIGKILL: no shutdown of any kind
    first.wait().unwrap();

    // `serve` sets no issuer: the default, ISSUER, is what the tokens name
    let rp = BackchannelRp::start(port, ISSUER, id, &format!("{base}/.well-known/jwks.json")).await;
    let mut second = started(serve(&data, public, admin), public).await;
    // due again after the first backoff (5 s), then delivered
    let seen = rp.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(seen[0]["ok"], true, "{seen:?}");
    assert_eq!(
        seen[0]["claims"]["sid"],
        claims(tokens["id_token"].as_str().unwrap())["sid"]
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rp.seen().len(), 1, "delivered once");
    second.kill().unwrap();
    second.wait().unwrap();
}

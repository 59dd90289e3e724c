//! book § Verifying tokens in other services: the revocation feed. Every kind of revocation reaches it in order; only
//! confidential clients read it, scoped like introspection; paging, caught up, malformed
//! and expired cursors.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use rstest_reuse::apply;
use serde_json::{json, Value};
use tessera::clock::{Clock, FixedClock};

use crate::helpers::{
    backends, claims, spawn_on, try_spawn_on, Backend, Fetch, TestApp, TestDb, STRONG_PASSWORD,
};

type Credentials = (String, Option<String>);

/// `GET /oauth2/revocations?query` as `client`: the status, `Cache-Control` and the body.
async fn feed(app: &TestApp, client: &Credentials, query: &str) -> (StatusCode, String, Value) {
    let response = app
        .http
        .get(app.url(&format!("/oauth2/revocations?{query}")))
        .basic_auth(&client.0, client.1.as_deref())
        .fetch()
        .await;
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cache, response.json().await.unwrap_or(Value::Null))
}

/// Every event after `after` (all pages), and the cursor at the end.
async fn events_after(app: &TestApp, client: &Credentials, after: &str) -> (Vec<Value>, String) {
    let (mut all, mut next) = (Vec::new(), after.to_owned());
    loop {
        let (status, _, body) = feed(app, client, &format!("after={next}&limit=2")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = body["events"].as_array().unwrap().clone();
        next = body["next"].as_str().unwrap().to_owned();
        if page.is_empty() && body["more"] == false {
            return (all, next);
        }
        all.extend(page);
    }
}

async fn revoke(app: &TestApp, token: &str) {
    let response = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", token), ("client_id", "spa")])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap()
}

#[apply(backends)]
#[tokio::test]
async fn every_kind_of_revocation_reaches_the_feed_in_order(backend: Backend) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let reader = app.resource_server().await;
    let (status, cache, start) = feed(&app, &reader, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache, "no-store");
    assert_eq!(start["events"], json!([]), "a new feed is empty");
    let start = text(&start, "next").to_owned();

    // RFC 7009 on an access token, then on a refresh token
    let first = app.new_user_tokens("feed@example.com").await;
    let access = claims(text(&first, "access_token"));
    revoke(&app, text(&first, "access_token")).await;
    revoke(&app, text(&first, "refresh_token")).await;
    // reuse detection
    let second = app.login("feed@example.com", "openid").await;
    let rotated: Value = app
        .refresh(text(&second, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    let again = app.refresh(text(&rotated, "refresh_token")).await;
    assert_eq!(again.status(), StatusCode::OK);
    // the first token is two rotations old: past any grace, so this is reuse
    let reused = app.refresh(text(&second, "refresh_token")).await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    // a password change
    let third = app.login("feed@example.com", "openid").await;
    let changed = app
        .http
        .post(app.url("/api/v1/me/password"))
        .bearer_auth(text(&third, "access_token"))
        .json(&json!({"current_password": STRONG_PASSWORD, "new_password": "a-New-long-passphrase-88"}))
        .fetch()
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    // an emergency key revocation
    let next_kid = app
        .admin_keys()
        .await
        .into_iter()
        .find(|k| k["state"] == "next")
        .unwrap();
    let kid = text(&next_kid, "kid").to_owned();
    let revoked = app
        .admin_call(Method::POST, &format!("/admin/keys/{kid}/revoke"))
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);

    let (events, end) = events_after(&app, &reader, &start).await;
    let kinds: Vec<&str> = events.iter().map(|e| text(e, "type")).collect();
    assert_eq!(
        kinds,
        ["jti", "session", "session", "user", "key"],
        "{events:?}"
    );
    assert_eq!(
        events[0],
        json!({"type": "jti", "jti": access["jti"], "exp": access["exp"]})
    );
    assert_eq!(events[1]["sid"], access["sid"]);
    assert_eq!(
        events[2]["sid"],
        claims(text(&second, "access_token"))["sid"]
    );
    for session in &events[1..3] {
        // the last access token of the session expires one lifetime from now at the
        // latest, under the longest lifetime a token can have (1 h): a client's own TTL, or
        // a global one lowered since the token was issued, cannot make it forget early
        let exp = session["exp"].as_i64().unwrap();
        let iat = access["iat"].as_i64().unwrap();
        assert!(exp >= iat + 3600 && exp <= iat + 3600 + 60, "{session}");
    }
    assert_eq!(events[3]["sub"], access["sub"]);
    assert!(events[3]["not_before"].as_i64().unwrap() >= access["iat"].as_i64().unwrap());
    assert_eq!(events[4], json!({"type": "key", "kid": kid}));

    // caught up: an empty page keeps the cursor
    let (_, _, caught_up) = feed(&app, &reader, &format!("after={end}")).await;
    assert_eq!(caught_up, json!({"events": [], "next": end, "more": false}));
    // without after: everything kept, from the oldest; POST with client_secret_post too
    let posted: Value = app
        .http
        .post(app.url("/oauth2/revocations"))
        .form(&[
            ("client_id", reader.0.as_str()),
            ("client_secret", reader.1.as_deref().unwrap()),
            ("limit", "1000"),
        ])
        .fetch_json()
        .await;
    assert_eq!(posted["events"], json!(events));
    assert_eq!(posted["next"], end.as_str());
}

#[apply(backends)]
#[tokio::test]
async fn only_confidential_clients_read_the_feed_and_bad_parameters_are_refused(backend: Backend) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let reader = app.resource_server().await;
    // no credentials at all: RFC 6749 §5.2's invalid_client, as at the token and
    // introspection endpoints
    let anonymous = app.http.get(app.url("/oauth2/revocations")).fetch().await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");
    let public = app
        .http
        .get(app.url("/oauth2/revocations?client_id=spa"))
        .fetch()
        .await;
    assert_eq!(public.status(), StatusCode::UNAUTHORIZED, "a public client");
    let body: Value = public.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let wrong = (reader.0.clone(), Some("not-the-secret".to_owned()));
    assert_eq!(feed(&app, &wrong, "").await.0, StatusCode::UNAUTHORIZED);

    let secret = reader.1.clone().unwrap();
    for query in [
        "after=not-a-cursor".to_owned(),
        "after=MTIz".to_owned(),
        format!("after={}", "A".repeat(100)),
        "limit=0".to_owned(),
        "limit=1001".to_owned(),
        "limit=ten".to_owned(),
        "limit=1&limit=2".to_owned(),
        format!("client_secret={secret}"),
    ] {
        let (status, _, body) = feed(&app, &reader, &query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "invalid_request", "{query}");
    }
}

#[apply(backends)]
#[tokio::test]
async fn token_and_session_events_go_only_to_clients_that_may_introspect_those_tokens(
    backend: Backend,
) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    // a machine client whose tokens are for https://api.example.com
    let owner = app.client(&["client_credentials"], false, false).await;
    let api = app.resource_server().await;
    let elsewhere = app.resource_server().await;
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/admin/clients/{}", elsewhere.0),
            Some(json!({"audiences": ["https://other.example"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let token: Value = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&owner.0, owner.1.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", "api.read")])
        .fetch_json()
        .await;
    let token = text(&token, "access_token");
    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .basic_auth(&owner.0, owner.1.as_deref())
        .form(&[("token", token)])
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    // an event for everyone: a user's cut-off
    app.user("cut@example.com").await;
    let user = app.stored_user("cut@example.com").await.unwrap();
    let (status, _) = app
        .admin_json(
            Method::POST,
            &format!("/admin/users/{}/revoke-sessions", user.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let kinds = |events: Vec<Value>| -> Vec<String> {
        events.iter().map(|e| text(e, "type").to_owned()).collect()
    };
    for (who, expected) in [
        (&owner, vec!["jti", "user"]),
        (&api, vec!["jti", "user"]),
        (&elsewhere, vec!["user"]),
    ] {
        let (_, _, page) = feed(&app, who, "").await;
        let events = page["events"].as_array().unwrap().clone();
        assert_eq!(kinds(events), expected, "{}", who.0);
    }
}

#[apply(backends)]
#[tokio::test]
async fn a_cursor_older_than_what_the_feed_keeps_answers_410_and_reading_afresh_starts_over(
    backend: Backend,
) {
    let clock = Arc::new(FixedClock::starting_now());
    let app = try_spawn_on(Arc::new(TestDb::on(backend).await), &[], clock.clone())
        .await
        .unwrap();
    let reader = app.resource_server().await;
    let (_, _, start) = feed(&app, &reader, "").await;
    let start = text(&start, "next").to_owned();
    let tokens = app.new_user_tokens("old@example.com").await;
    revoke(&app, text(&tokens, "access_token")).await;
    let (events, _) = events_after(&app, &reader, &start).await;
    assert_eq!(events.len(), 1);

    // time passes; the next write drops what is older than the feed keeps (here: nothing
    // is kept but the new event, so the test needs no hour)
    clock.advance(std::time::Duration::from_secs(1));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let newer = tessera::store::FeedRecord::public(tessera::store::Revocation::Key {
        kid: "k-new".into(),
    });
    app.state
        .stores
        .feed
        .append(&[newer], clock.now(), std::time::Duration::ZERO)
        .await
        .unwrap();

    let (status, cache, body) = feed(&app, &reader, &format!("after={start}")).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(cache, "no-store");
    assert_eq!(body["error"], "cursor_expired");
    let (status, _, fresh) = feed(&app, &reader, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fresh["events"], json!([{"type": "key", "kid": "k-new"}]));
    // reading on from the fresh start works
    let (_, _, on) = feed(&app, &reader, &format!("after={}", text(&fresh, "next"))).await;
    assert_eq!(on["events"], json!([]));
}

/// Postgres + Redis only: a cursor from one instance reads on at another.
#[tokio::test]
async fn a_cursor_from_one_instance_reads_on_at_another() {
    let db = Arc::new(TestDb::new().await);
    let one = spawn_on(db.clone(), &[]).await;
    let two = spawn_on(db, &[]).await;
    let reader = one.resource_server().await;
    let (_, _, start) = feed(&one, &reader, "").await;
    let start = text(&start, "next").to_owned();
    let tokens = one.new_user_tokens("two@example.com").await;
    revoke(&one, text(&tokens, "access_token")).await;
    let (at_one, end) = events_after(&one, &reader, &start).await;
    let (at_two, end_two) = events_after(&two, &reader, &start).await;
    assert_eq!(at_one.len(), 1);
    assert_eq!(at_one, at_two);
    assert_eq!(end, end_two);
}

#[apply(backends)]
#[tokio::test]
async fn deleting_a_client_ends_its_sessions_in_the_feed_for_its_audience(backend: Backend) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let reader = app.resource_server().await;
    let (doomed, secret) = app
        .client(&["password", "refresh_token"], false, true)
        .await;
    app.user("del@example.com").await;
    let tokens: Value = app
        .http
        .post(app.url("/oauth2/token"))
        .basic_auth(&doomed, secret.as_deref())
        .form(&[
            ("grant_type", "password"),
            ("username", "del@example.com"),
            ("password", STRONG_PASSWORD),
            ("scope", "openid"),
        ])
        .fetch_json()
        .await;
    let sid = claims(text(&tokens, "access_token"))["sid"].clone();
    let (status, _) = app
        .admin_json(Method::DELETE, &format!("/admin/clients/{doomed}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // the reader serves https://api.example.com, the deleted client's audience; every
    // reader hears that the client's tokens (client_credentials ones too) are void
    let (_, _, page) = feed(&app, &reader, "").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2, "{page}");
    assert_eq!(page["events"][0]["type"], "session");
    assert_eq!(page["events"][0]["sid"], sid);
    assert_eq!(page["events"][1]["type"], "client");
    assert_eq!(page["events"][1]["client_id"], doomed.as_str());
    let iat = claims(text(&tokens, "access_token"))["iat"]
        .as_i64()
        .unwrap();
    assert!(
        page["events"][1]["not_before"].as_i64().unwrap() > iat,
        "{page}"
    );
}

#[apply(backends)]
#[tokio::test]
async fn one_request_reads_a_bounded_number_of_events_and_says_when_there_is_more(
    backend: Backend,
) {
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let reader = app.resource_server().await;
    let (_, _, start) = feed(&app, &reader, "").await;
    let start = text(&start, "next").to_owned();
    // 25 events the reader may not see (another audience's tokens), then one it may
    let writer = app
        .machine_client(&["https://elsewhere.example.com"], &[])
        .await;
    for _ in 0..25 {
        let token: Value = app
            .http
            .post(app.url("/oauth2/token"))
            .basic_auth(&writer.0, writer.1.as_deref())
            .form(&[("grant_type", "client_credentials")])
            .fetch_json()
            .await;
        let revoked = app
            .http
            .post(app.url("/oauth2/revoke"))
            .basic_auth(&writer.0, writer.1.as_deref())
            .form(&[("token", text(&token, "access_token"))])
            .fetch()
            .await;
        assert_eq!(revoked.status(), StatusCode::OK);
    }
    let tokens = app.new_user_tokens("seen@example.com").await;
    revoke(&app, text(&tokens, "access_token")).await;

    // limit=1: at most 10 stored events a request, so the skipped ones cost 3 requests
    let (mut requests, mut after, mut seen) = (0, start, Vec::new());
    loop {
        let (status, _, page) = feed(&app, &reader, &format!("after={after}&limit=1")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        requests += 1;
        seen.extend(page["events"].as_array().unwrap().clone());
        if page["more"] == false {
            assert_eq!(page["events"], json!([]), "caught up");
            break;
        }
        assert_ne!(
            page["next"],
            after.as_str(),
            "an answer with more advances: {page}"
        );
        after = text(&page, "next").to_owned();
        assert!(requests < 10, "{page}");
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["jti"], claims(text(&tokens, "access_token"))["jti"]);
    assert_eq!(
        requests, 4,
        "10 + 10 + 6 stored events (the last one seen), then caught up"
    );
}

#[apply(backends)]
#[tokio::test]
async fn a_cursor_ahead_of_the_feed_or_from_another_store_epoch_answers_410(backend: Backend) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let app = spawn_on(Arc::new(TestDb::on(backend).await), &[]).await;
    let reader = app.resource_server().await;
    let tokens = app.new_user_tokens("ep@example.com").await;
    revoke(&app, text(&tokens, "access_token")).await;
    let (_, _, page) = feed(&app, &reader, "").await;
    let next = text(&page, "next");
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(next).unwrap()).unwrap();
    let (epoch, position) = raw.split_once('.').unwrap();
    let (ms, seq) = position.split_once('-').unwrap();
    let seq: u64 = seq.parse().unwrap();
    let cursor = |text: String| URL_SAFE_NO_PAD.encode(text);

    let ahead = cursor(format!("{epoch}.{}-{}", u64::MAX / 4, seq + 1000));
    let (status, _, body) = feed(&app, &reader, &format!("after={ahead}")).await;
    assert_eq!(
        status,
        StatusCode::GONE,
        "a cursor ahead of the newest event: {body}"
    );
    let other_epoch = format!("{:x}", u64::from_str_radix(epoch, 16).unwrap() ^ 0xff);
    let foreign = cursor(format!("{other_epoch}.{ms}-{seq}"));
    let (status, _, body) = feed(&app, &reader, &format!("after={foreign}")).await;
    assert_eq!(status, StatusCode::GONE, "another epoch: {body}");
    let before_epochs = cursor(format!("{ms}-{seq}"));
    let (status, _, _) = feed(&app, &reader, &format!("after={before_epochs}")).await;
    assert_eq!(status, StatusCode::GONE, "a cursor from before epochs");
    let (status, _, body) = feed(&app, &reader, &format!("after={next}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["events"], json!([]));
}

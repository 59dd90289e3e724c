//! Issue 12 (RFC 9068, book § Endpoints, book § Configuration): what a session keeps in Redis stays the same size however often
//! it rotates, and ending it leaves nothing behind in any index.
//! Postgres + Redis only: it is about what Redis holds (the embedded families are rows,
//! checked by the store contract suite).

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{claims, redis_url, spawn_with, Fetch, TestApp};

async fn redis(app: &TestApp) -> redis::aio::MultiplexedConnection {
    let _ = app;
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_tokio_connection()
        .await
        .unwrap()
}

/// Every key under the app's prefix, with its memory footprint in bytes.
async fn footprint(app: &TestApp) -> (Vec<String>, i64) {
    let mut conn = redis(app).await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.db.redis_prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    let mut bytes = 0;
    for key in &keys {
        let usage: Option<i64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        bytes += usage.unwrap_or(0);
    }
    (keys, bytes)
}

async fn rotate(app: &TestApp, token: &str) -> String {
    let response = app.refresh(token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_family_keeps_a_constant_size_however_often_it_rotates_and_ending_it_leaves_nothing() {
    let app = spawn_with(&[("refresh_grace", "0")]).await;
    app.user("mem@example.com").await;
    let login = app.login("mem@example.com", "openid").await;
    let sid = claims(login["access_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut token = rotate(&app, login["refresh_token"].as_str().unwrap()).await;
    let (keys_after_one, bytes_after_one) = footprint(&app).await;
    for _ in 0..50 {
        token = rotate(&app, &token).await;
    }
    let (keys_after_fifty, bytes_after_fifty) = footprint(&app).await;
    assert_eq!(
        keys_after_one, keys_after_fifty,
        "no key appears per rotation"
    );
    assert!(
        bytes_after_fifty <= bytes_after_one + 64,
        "50 rotations grew Redis from {bytes_after_one} to {bytes_after_fifty} bytes"
    );

    // every index lists the family while it lives...
    let mut conn = redis(&app).await;
    let indexes: Vec<&String> = keys_after_fifty
        .iter()
        .filter(|k| k.ends_with(":families"))
        .collect();
    assert_eq!(indexes.len(), 2, "{keys_after_fifty:?}");
    for index in &indexes {
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(index.as_str())
            .arg(&sid)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(score.is_some(), "{index} lacks the family");
    }
    // ...and nothing is left of it once it ends
    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("client_id", "spa"), ("token", token.as_str())])
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let (keys, _) = footprint(&app).await;
    assert!(
        keys.iter()
            .all(|k| !k.contains(&sid) && !k.ends_with(":families")),
        "left behind: {keys:?}"
    );
}

#[tokio::test]
async fn an_older_token_of_a_family_is_still_reuse_and_the_reuse_empties_the_indexes() {
    let app = spawn_with(&[("refresh_grace", "0")]).await;
    app.user("old@example.com").await;
    let login = app.login("old@example.com", "openid").await;
    let oldest = login["refresh_token"].as_str().unwrap().to_owned();
    let mut token = rotate(&app, &oldest).await;
    for _ in 0..5 {
        token = rotate(&app, &token).await;
    }
    // the first token, six generations back, is reuse: the family ends
    let reused = app.refresh(&oldest).await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let current = app.refresh(&token).await;
    assert_eq!(
        current.status(),
        StatusCode::BAD_REQUEST,
        "the thief's copy is dead too"
    );
    let (keys, _) = footprint(&app).await;
    assert!(
        keys.iter()
            .all(|k| !k.contains(":fam:") && !k.ends_with(":families")),
        "left behind: {keys:?}"
    );
}

//! Issue 17 (item 6): what Redis must be for tessera. An evicting policy is named loudly at
//! start; with AOF, a Redis restart keeps every session and every revocation. Each test
//! runs a Redis of its own on loopback (redis-server from the machine), so PostgreSQL +
//! Redis only.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_on, test_settings, Fetch, OwnRedis, TestDb};

/// What connecting to `redis` finds wrong with its settings.
async fn findings_for(db: &TestDb, redis: &OwnRedis) -> Vec<(bool, String)> {
    let settings = test_settings(db, &[("redis_url", &redis.url())]);
    tessera::store::connect((&settings).into())
        .await
        .unwrap()
        .findings
}

#[tokio::test]
async fn an_evicting_redis_is_named_at_start_and_a_durable_one_is_not() {
    let db = TestDb::new().await;
    let evicting = OwnRedis::start(&[
        "--maxmemory-policy",
        "allkeys-lru",
        "--appendonly",
        "no",
        "--save",
        "",
    ]);
    let findings = findings_for(&db, &evicting).await;
    assert!(findings[0].0, "loud: {findings:?}");
    assert!(findings[0].1.contains("allkeys-lru") && findings[0].1.contains("noeviction"));
    assert!(findings[1].1.contains("persistence is off"), "{findings:?}");

    let durable = OwnRedis::start(&[
        "--maxmemory-policy",
        "noeviction",
        "--appendonly",
        "yes",
        "--save",
        "",
    ]);
    let findings = findings_for(&db, &durable).await;
    assert_eq!(findings, []);
}

#[tokio::test]
async fn with_aof_a_redis_restart_keeps_every_session_and_every_revocation() {
    let mut redis = OwnRedis::start(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
    ]);
    let url = redis.url();
    let app = spawn_on(Arc::new(TestDb::new().await), &[("redis_url", &url)]).await;
    let mut refresh_tokens = Vec::new();
    for n in 0..5 {
        let tokens = app.new_user_tokens(&format!("aof{n}@example.com")).await;
        refresh_tokens.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    let revoked = app.login("aof0@example.com", "openid").await;
    let revoked = revoked["access_token"].as_str().unwrap().to_owned();
    let answer = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", revoked.as_str()), ("client_id", "spa")])
        .fetch()
        .await;
    assert_eq!(answer.status(), StatusCode::OK);

    redis.restart();

    // every session still rotates (the app reconnects by itself)
    for token in &refresh_tokens {
        let mut rotated = None;
        for _ in 0..50 {
            let response = app.refresh(token).await;
            if response.status() != StatusCode::SERVICE_UNAVAILABLE {
                rotated = Some(response);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let response = rotated.expect("Redis did not come back");
        assert_eq!(response.status(), StatusCode::OK);
    }
    // and the revoked token is still revoked
    let resource_server = app.resource_server().await;
    let status: Value = app.introspect_as(&resource_server, &revoked).await;
    assert_eq!(status["active"], false);
}

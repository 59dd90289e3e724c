//! Issue 17 (item 4, first part): three `tessera serve` processes on one PostgreSQL and
//! one Redis; one is killed (`kill -9`) under refresh load while clients retry on another.
//! Every user's latest refresh token still rotates, no session is revoked by reuse
//! detection and no `refresh_token_reuse` is audited. PostgreSQL + Redis only.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    admin_tokens_setting, free_port, redis_url, test_kek, until_answering, TestDb, ADMIN_TOKEN,
    STRONG_PASSWORD,
};

/// One `tessera serve` on `db`; (public port, admin port, process).
async fn instance(db: &TestDb) -> (u16, u16, Child) {
    let (public, admin) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("REDIS_URL", redis_url())
        .env("TESSERA_REDIS_PREFIX", db.redis_prefix())
        .env("TESSERA_KEK", test_kek())
        .env("TESSERA_ADMIN_TOKENS", admin_tokens_setting())
        .env("TESSERA_ISSUER", "http://127.0.0.1:8080")
        .env("TESSERA_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
        .env("TESSERA_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("TESSERA_HTTP_WORKERS", "1")
        .env("TESSERA_DB_POOL_SIZE", "4")
        .env("TESSERA_RATE_LIMIT_LOGIN_IP", "0")
        .env("TESSERA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until_answering(&mut child, public, "/readyz").await;
    (public, admin, child)
}

async fn refresh(
    http: &reqwest::Client,
    port: u16,
    token: &str,
) -> reqwest::Result<reqwest::Response> {
    http.post(format!("http://127.0.0.1:{port}/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", token),
        ])
        .send()
        .await
}

#[tokio::test]
async fn a_kill_9_of_one_of_three_instances_under_refresh_load_loses_no_session() {
    let db = TestDb::new().await;
    // one after another: the first migrates the database and makes the keys
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(instance(&db).await);
    }
    let ports: Vec<u16> = instances.iter().map(|(p, _, _)| *p).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let response = http
        .post(format!("http://127.0.0.1:{}/api/v1/accounts", ports[0]))
        .json(&serde_json::json!({"email": "many@example.com", "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    const SESSIONS: usize = 12;
    let mut latest = Vec::new();
    for i in 0..SESSIONS {
        let tokens: Value = http
            .post(format!("http://127.0.0.1:{}/oauth2/token", ports[i % 3]))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "spa"),
                ("username", "many@example.com"),
                ("password", STRONG_PASSWORD),
                ("scope", "openid"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        latest.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    let latest = Arc::new(Mutex::new(latest));
    let (answered, retried) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let stop = Arc::new(AtomicBool::new(false));

    // each session refreshes in a loop, spread over the instances; a request that fails
    // in transport (its instance died) is sent again, same token, to the next instance
    let loops: Vec<_> = (0..SESSIONS)
        .map(|i| {
            let (http, latest, answered, retried, stop) = (
                http.clone(),
                latest.clone(),
                answered.clone(),
                retried.clone(),
                stop.clone(),
            );
            let ports = ports.clone();
            tokio::spawn(async move {
                let mut turn = i;
                while !stop.load(Ordering::Relaxed) {
                    let token = latest.lock().unwrap()[i].clone();
                    let mut body = None;
                    for attempt in 0..3 {
                        match refresh(&http, ports[(turn + attempt) % 3], &token).await {
                            Ok(response) => {
                                let status = response.status();
                                let json: Value = response.json().await.unwrap_or(Value::Null);
                                assert_eq!(status, StatusCode::OK, "session {i}: {json}");
                                body = Some(json);
                                break;
                            }
                            Err(_) => {
                                retried.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    let body = body.expect("no instance answered");
                    latest.lock().unwrap()[i] = body["refresh_token"].as_str().unwrap().to_owned();
                    answered.fetch_add(1, Ordering::Relaxed);
                    turn += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, _, mut victim) = instances.remove(0);
    victim.kill().unwrap(); // SIGKILL, mid-load
    victim.wait().unwrap();
    let at_kill = answered.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in loops {
        task.await.unwrap();
    }
    let after = answered.load(Ordering::Relaxed);
    eprintln!(
        "{at_kill} rotations before the kill, {} after, {} requests sent again",
        after - at_kill,
        retried.load(Ordering::Relaxed)
    );
    assert!(
        at_kill > 50 && after > at_kill + 50,
        "the load ran on both sides of the kill"
    );

    // every session's latest token rotates, and nothing was taken for reuse
    let survivor = instances[0].0;
    let tokens = latest.lock().unwrap().clone();
    for (i, token) in tokens.iter().enumerate() {
        let response = refresh(&http, survivor, token).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "session {i}");
    }
    let audit: Value = http
        .get(format!(
            "http://127.0.0.1:{}/admin/audit?type=refresh_token_reuse",
            instances[0].1
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["events"], serde_json::json!([]), "{audit}");
    for (_, _, mut child) in instances {
        let _ = child.kill();
        let _ = child.wait();
    }
}

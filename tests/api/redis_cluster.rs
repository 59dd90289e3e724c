//! Issue 17 (items 1 and 4): tessera on a Redis Cluster of the test's own
//! (`TESSERA_REDIS_CLUSTER=true`, the nodes as seeds in `REDIS_URL`). The whole service
//! works across the masters' slots, the CLI's export reads every master, and a master
//! killed mid-load (`kill -9`, its replica promoted) costs `503`s during the failover
//! only: no session lost, none taken for reuse. The store contract on a cluster is in
//! `store/mod.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{cli_env, run_cli, spawn_on, Fetch, RedisCluster, TestApp, TestDb};

async fn app_on(cluster: &RedisCluster) -> TestApp {
    let seeds = cluster.seeds();
    let db = Arc::new(TestDb::new().await);
    spawn_on(
        db,
        &[
            ("redis_url", &seeds),
            ("redis_cluster", "true"),
            ("rate_limit_login_ip", "0"),
        ],
    )
    .await
}

#[tokio::test]
async fn the_service_runs_on_a_redis_cluster_and_its_export_reads_every_master() {
    let cluster = RedisCluster::start(3, 0);
    let app = app_on(&cluster).await;
    let resource = app.resource_server().await;

    // two sessions of one user, one of another: families, indexes and cut-offs spread
    // over the slots
    let first = app.new_user_tokens("ada@example.com").await;
    let second = app.login("ada@example.com", "openid").await;
    let other = app.new_user_tokens("bo@example.com").await;
    let rotated: Value = app
        .refresh(first["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert!(rotated["refresh_token"].is_string(), "{rotated}");

    let sessions: Value = app
        .http
        .get(app.url("/api/v1/me/sessions"))
        .bearer_auth(rotated["access_token"].as_str().unwrap())
        .fetch_json()
        .await;
    assert_eq!(
        sessions["sessions"].as_array().unwrap().len(),
        2,
        "{sessions}"
    );
    let access = second["access_token"].as_str().unwrap();
    let active = app.introspect_as(&resource, access).await;
    assert_eq!(active["active"], true, "{active}");

    // ending the other session from this one, and revoking this one's access token
    let other_session = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ended = app
        .http
        .delete(app.url(&format!("/api/v1/me/sessions/{other_session}")))
        .bearer_auth(rotated["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    let refused = app.refresh(second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.introspect_as(&resource, access).await["active"], false);
    let mine = rotated["access_token"].as_str().unwrap();
    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[("token", mine), ("client_id", "spa")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(app.introspect_as(&resource, mine).await["active"], false);
    let kept = app.refresh(other["refresh_token"].as_str().unwrap()).await;
    assert_eq!(kept.status(), StatusCode::OK);

    // the export finds the live session wherever its slot lives
    let mut env = cli_env(&app.db);
    env.retain(|(k, _)| *k != "REDIS_URL");
    env.extend([
        ("REDIS_URL", cluster.seeds()),
        ("TESSERA_REDIS_CLUSTER", "true".into()),
    ]);
    let export = run_cli(&["export"], &env);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let families = String::from_utf8_lossy(&export.stdout)
        .lines()
        .filter(|l| l.contains("\"refresh_families\""))
        .count();
    assert_eq!(
        families, 2,
        "ada's first session and bo's are live, the ended one is not"
    );
}

/// What the refresh load saw: (when, status, whether `Retry-After` came with it).
type Seen = Vec<(Instant, StatusCode, bool)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_failing_over_mid_load_costs_503s_during_the_failover_only() {
    let mut cluster = RedisCluster::start(3, 1);
    let app = Arc::new(app_on(&cluster).await);
    const SESSIONS: usize = 12;
    app.user("many@example.com").await;
    let mut latest = Vec::new();
    for _ in 0..SESSIONS {
        let tokens = app.login("many@example.com", "openid").await;
        latest.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    let latest = Arc::new(Mutex::new(latest));
    let seen = Arc::new(Mutex::new(Seen::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let loops: Vec<_> = (0..SESSIONS)
        .map(|i| {
            let (app, latest, seen, stop) =
                (app.clone(), latest.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let token = latest.lock().unwrap()[i].clone();
                    let response = app.refresh(&token).await;
                    let status = response.status();
                    let retry_after = response.headers().contains_key("retry-after");
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    seen.lock()
                        .unwrap()
                        .push((Instant::now(), status, retry_after));
                    match status {
                        StatusCode::OK => {
                            latest.lock().unwrap()[i] =
                                body["refresh_token"].as_str().unwrap().to_owned();
                        }
                        // the client waits as told, then tries the same token again
                        StatusCode::SERVICE_UNAVAILABLE => {
                            tokio::time::sleep(Duration::from_millis(100)).await
                        }
                        _ => panic!("session {i}: {status} {body}"),
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let victim = cluster.masters()[0];
    let killed = Instant::now();
    let failover = cluster.fail_master(victim);
    // a client learns the new slot map on its next error: allow two seconds for that
    let settled = killed + failover + Duration::from_secs(2);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    stop.store(true, Ordering::Relaxed);
    for task in loops {
        task.await.unwrap();
    }

    let seen = seen.lock().unwrap().clone();
    let before = seen.iter().filter(|(at, ..)| *at < killed).count();
    let after = seen.iter().filter(|(at, ..)| *at > settled).count();
    let errors: Vec<_> = seen
        .iter()
        .filter(|(_, s, _)| *s != StatusCode::OK)
        .collect();
    eprintln!(
        "failover took {failover:?}; {before} rotations before the kill, {after} after it settled, {} answered 503",
        errors.len()
    );
    assert!(before > 50 && after > 50, "the load ran on both sides");
    for (at, status, retry_after) in &errors {
        assert!(*retry_after, "a 503 without Retry-After");
        assert!(
            *at >= killed && *at <= settled,
            "{status} {:?} after the kill, outside the failover ({failover:?})",
            at.duration_since(killed)
        );
    }

    // every session's latest token still rotates, and nothing was taken for reuse
    let latest = latest.lock().unwrap().clone();
    for (i, token) in latest.iter().enumerate() {
        assert_eq!(
            app.refresh_status(token).await,
            StatusCode::OK,
            "session {i}"
        );
    }
    let (_, reuse) = app
        .admin_json(
            reqwest::Method::GET,
            "/admin/audit?type=refresh_token_reuse",
            None,
        )
        .await;
    assert_eq!(reuse["events"], serde_json::json!([]), "{reuse}");
}

#[test]
fn seed_lists_are_checked_when_the_settings_load_and_never_echoed() {
    let secret = "s3cret-cluster-password";
    let two = format!("redis://:{secret}@10.0.0.1:6379,redis://:{secret}@10.0.0.2:6379");
    let mixed = format!("redis://:{secret}@10.0.0.1:6379,rediss://:{secret}@10.0.0.2:6379");
    let with_db = format!("redis://:{secret}@10.0.0.1:6379/3");
    let broken = format!("redis://:{secret}@10.0.0.1:6379,10.0.0.2:6379");
    for (url, cluster, expected) in [
        (two.as_str(), "false", "set TESSERA_REDIS_CLUSTER=true"),
        (mixed.as_str(), "true", "mixes redis:// and rediss://"),
        (with_db.as_str(), "true", "only database 0"),
        (
            broken.as_str(),
            "true",
            "every seed node must be an absolute URL",
        ),
    ] {
        let pairs = [
            ("issuer", "http://127.0.0.1:8080"),
            ("database_url", "postgres://postgres@127.0.0.1:5432/test"),
            ("redis_url", url),
            ("redis_cluster", cluster),
            ("kek", &crate::helpers::test_kek()),
        ];
        let error = match tessera::config::Settings::from_pairs(pairs) {
            Ok(_) => panic!("{expected}: accepted"),
            Err(e) => format!("{e}"),
        };
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains(secret), "the URL was echoed: {error}");
    }
    let pairs = [
        ("issuer", "http://127.0.0.1:8080"),
        ("redis_cluster", "true"),
        ("kek", &crate::helpers::test_kek()),
    ];
    let error = format!(
        "{}",
        tessera::config::Settings::from_pairs(pairs).unwrap_err()
    );
    assert!(error.contains("needs REDIS_URL"), "{error}");
    let pairs = [
        ("issuer", "http://127.0.0.1:8080"),
        ("database_url", "postgres://postgres@127.0.0.1:5432/test"),
        ("redis_url", two.as_str()),
        ("redis_cluster", "true"),
        ("kek", &crate::helpers::test_kek()),
    ];
    assert!(tessera::config::Settings::from_pairs(pairs).is_ok());
}

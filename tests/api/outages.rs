//! Issue 17 (item 4): a backend lost mid-load. While Redis (or PostgreSQL) is gone, every
//! answer is a success or `503` with `Retry-After` (never another 5xx), the JWKS and
//! discovery keep answering `200` from memory, and once the backend is back every endpoint
//! works again within 10 s, without a restart. The backend sits behind a proxy the test
//! cuts (every open connection dropped, new ones refused). PostgreSQL + Redis only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{pg_base_url, redis_url, spawn_on, Proxy, TestApp, TestDb};

/// What one request of the load saw.
struct Seen {
    phase: &'static str,
    what: &'static str,
    status: StatusCode,
    retry_after: bool,
}

fn address(url: &str) -> std::net::SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap();
    let port = url.port().unwrap();
    format!("{host}:{port}").parse().unwrap()
}

/// One round of the mixed load: (what, request).
fn requests(
    app: &TestApp,
    client: &(String, Option<String>),
    refresh: &str,
) -> Vec<(&'static str, reqwest::RequestBuilder)> {
    let token = app.url("/oauth2/token");
    vec![
        ("jwks", app.http.get(app.url("/.well-known/jwks.json"))),
        (
            "discovery",
            app.http.get(app.url("/.well-known/openid-configuration")),
        ),
        (
            "client_credentials",
            app.http
                .post(&token)
                .basic_auth(&client.0, client.1.as_deref())
                .form(&[("grant_type", "client_credentials")]),
        ),
        (
            "refresh",
            app.http.post(&token).form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "spa"),
                ("refresh_token", refresh),
            ]),
        ),
    ]
}

async fn outage_mid_load(backend: &'static str) {
    let db = Arc::new(TestDb::new().await);
    let redis = backend == "redis";
    let upstream = address(&if redis { redis_url() } else { pg_base_url() });
    let mut proxy = Proxy::to(upstream).await;
    let (key, proxied) = if redis {
        ("redis_url", format!("redis://{}", proxy.addr))
    } else {
        let mut url = url::Url::parse(&db.url()).unwrap();
        url.set_port(Some(proxy.addr.port())).unwrap();
        ("database_url", url.to_string())
    };
    let app = Arc::new(spawn_on(db.clone(), &[(key, &proxied)]).await);
    let client = app.resource_server().await;
    let tokens = app.new_user_tokens("outage@example.com").await;
    let latest = Arc::new(Mutex::new(
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    ));
    let phase = Arc::new(Mutex::new("up"));
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let stop = Arc::new(AtomicBool::new(false));

    let load = {
        let (app, latest, phase, seen, stop) = (
            app.clone(),
            latest.clone(),
            phase.clone(),
            seen.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let refresh = latest.lock().unwrap().clone();
                for (what, request) in requests(&app, &client, &refresh) {
                    let at = *phase.lock().unwrap();
                    let Ok(response) = request.timeout(Duration::from_secs(8)).send().await else {
                        continue;
                    };
                    let (status, retry_after) = (
                        response.status(),
                        response.headers().contains_key("retry-after"),
                    );
                    if what == "refresh" && status == StatusCode::OK {
                        let body: Value = response.json().await.unwrap();
                        *latest.lock().unwrap() =
                            body["refresh_token"].as_str().unwrap().to_owned();
                    }
                    seen.lock().unwrap().push(Seen {
                        phase: at,
                        what,
                        status,
                        retry_after,
                    });
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    *phase.lock().unwrap() = "down";
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    *phase.lock().unwrap() = "back";
    proxy = proxy.restart().await;
    let back = Instant::now();
    // back: every kind of request succeeds again, within 10 s
    let recovered = loop {
        let since = {
            let seen = seen.lock().unwrap();
            let last_fail = seen
                .iter()
                .rposition(|s| s.phase == "back" && s.status != StatusCode::OK);
            let oks = seen
                .iter()
                .skip(last_fail.map_or(0, |i| i + 1))
                .filter(|s| s.phase == "back")
                .count();
            oks >= 8
        };
        if since {
            break back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "{backend}: not recovered 10 s after it came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    drop(proxy);

    let seen = seen.lock().unwrap();
    for s in seen.iter() {
        assert!(
            s.status.is_success() || (s.status == StatusCode::SERVICE_UNAVAILABLE && s.retry_after),
            "{backend} {}: {} answered {} (retry-after: {})",
            s.phase,
            s.what,
            s.status,
            s.retry_after
        );
        if s.phase == "down" && matches!(s.what, "jwks" | "discovery") {
            assert_eq!(
                s.status,
                StatusCode::OK,
                "{backend} down: {} from memory",
                s.what
            );
        }
    }
    let count = |phase: &str, ok: bool| {
        seen.iter()
            .filter(|s| s.phase == phase && s.status.is_success() == ok)
            .count()
    };
    assert!(count("up", true) > 10, "the load ran before the outage");
    assert!(
        count("down", false) > 0,
        "{backend} down: nothing was refused"
    );
    eprintln!(
        "{backend}: up {} ok; down {} ok, {} 503; back, all kinds ok again after {recovered:?}",
        count("up", true),
        count("down", true),
        count("down", false)
    );
}

#[tokio::test]
async fn redis_lost_mid_load_answers_503_with_retry_after_serves_the_jwks_and_recovers() {
    outage_mid_load("redis").await;
}

#[tokio::test]
async fn postgres_lost_mid_load_answers_503_with_retry_after_serves_the_jwks_and_recovers() {
    outage_mid_load("postgres").await;
}

//! Benchmark (BENCHMARKS.md, "The revocation feed's cost against its size"; issue 24,
//! item 3): what one feed request costs as the feed grows from 1,000 to 1,000,000 events
//! that the reading client may not see (another audience's tokens) — the case that used
//! to scan the whole feed in one request. At each size it times requests of `limit=1` from
//! the feed's start, each of which reads at most 10 stored events and answers
//! `"more": true`, and, as the ceiling of the same work without HTTP or scoping, a direct
//! store read of 10 events from the same place; it prints both medians and their ratio.
//!
//! `cargo run --release --example feed_scan [embedded|postgres] [MAX_EVENTS]`: embedded
//! runs on a fresh data directory; postgres uses DATABASE_URL and REDIS_URL from the
//! environment with a fresh Redis key prefix, removed afterwards.

use std::time::{Duration, Instant};

use tessera::clock::{Clock, SystemClock};
use tessera::store::{Cursor, FeedRecord, Revocation};

type Failure = Box<dyn std::error::Error>;

const SAMPLES: usize = 200;

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let backend = args.first().map_or("embedded", String::as_str);
    let max: usize = args.get(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let dir = std::env::temp_dir().join(format!("tessera-feed-scan-{}", std::process::id()));
    let prefix = format!("feedscan{}:", std::process::id());
    let kek = "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY=";
    let dir_text = dir.display().to_string();
    let (database, redis) = (
        std::env::var("DATABASE_URL").unwrap_or_default(),
        std::env::var("REDIS_URL").unwrap_or_default(),
    );
    let mut pairs = vec![
        ("issuer", "http://127.0.0.1:8080"),
        ("public_addr", "127.0.0.1:0"),
        ("admin_addr", "127.0.0.1:0"),
        ("kek", kek),
        (
            "admin_tokens",
            "bench:0000000000000000000000000000000000000000000000000000000000000000",
        ),
        ("rate_limit_client_auth_failures", "0"),
    ];
    match backend {
        "embedded" => pairs.push(("data_dir", &dir_text)),
        "postgres" => pairs.extend([
            ("database_url", database.as_str()),
            ("redis_url", redis.as_str()),
            ("redis_prefix", prefix.as_str()),
        ]),
        other => return Err(format!("unknown backend {other}: embedded or postgres").into()),
    }
    let settings = tessera::config::Settings::from_pairs(pairs).map_err(|e| e.to_string())?;
    let app = tessera::startup::Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", app.public_port());
    let state = app.state();
    let server = tokio::spawn(app.run_until_stopped());
    let stores = state.stores.clone();

    let operator = tessera::service::admin::Operator {
        actor: "bench".into(),
        now: SystemClock.now(),
    };
    let new = tessera::domain::NewClient {
        name: "reader".into(),
        public: false,
        first_party: false,
        grant_types: vec!["client_credentials".parse().map_err(|()| "grant")?],
        scopes: vec![],
        audiences: vec![],
        ..Default::default()
    };
    let (reader, secret) = tessera::service::admin::create_client(&stores, new, &operator)
        .await
        .map_err(|e| e.to_string())?;
    let (reader, secret) = (reader.id.to_string(), secret.unwrap_or_default());
    let http = reqwest::Client::new();
    let start = http
        .get(format!("{base}/oauth2/revocations?limit=1"))
        .basic_auth(&reader, Some(&secret))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?["next"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let start_cursor = Cursor::decode(&start).ok_or("no start cursor")?;

    println!("backend={backend} (per request: limit=1, at most 10 stored events read)");
    println!(
        "| events in the feed | HTTP request, median ms | store read of 10, median ms | ratio |"
    );
    println!("|---|---|---|---|");
    let keep = tessera::service::feed::retention(&settings);
    let (mut written, mut size) = (0usize, 1_000usize);
    while size <= max {
        let now = SystemClock.now();
        while written < size {
            let batch: Vec<FeedRecord> = (0..1000.min(size - written))
                .map(|i| FeedRecord {
                    event: Revocation::Jti {
                        jti: format!("scan-{}", written + i),
                        exp: now.unix_timestamp() + 900,
                    },
                    client_id: Some("writer".into()),
                    aud: vec!["https://elsewhere.example".into()],
                })
                .collect();
            written += batch.len();
            stores.feed.append(&batch, now, keep).await?;
        }
        let mut over_http = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let begun = Instant::now();
            let page: serde_json::Value = http
                .get(format!("{base}/oauth2/revocations?limit=1&after={start}"))
                .basic_auth(&reader, Some(&secret))
                .send()
                .await?
                .json()
                .await?;
            over_http.push(begun.elapsed());
            if page["more"] != true || page["events"] != serde_json::json!([]) {
                return Err(format!("unexpected page: {page}").into());
            }
        }
        let mut direct = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let begun = Instant::now();
            stores.feed.read(Some(start_cursor), 10).await?;
            direct.push(begun.elapsed());
        }
        let (h, d) = (median(over_http), median(direct));
        println!("| {size} | {h:.3} | {d:.3} | {:.2} |", d / h);
        size *= 10;
    }
    server.abort();
    if backend == "embedded" {
        let _ = std::fs::remove_dir_all(&dir);
    } else if let Ok(client) = redis::Client::open(redis.as_str()) {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await?;
        for key in keys {
            let _: () = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
        }
    }
    Ok(())
}

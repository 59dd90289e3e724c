//! Benchmark (BENCHMARKS.md, `benches/verify_load.sh`): the revocation feed with 100,000
//! events. Writes them straight into the store the running server uses (in batches of
//! 1,000, as one revocation write each), reads them back from the store page by page (the
//! ceiling: no HTTP, no scoping), then through `GET /oauth2/revocations` as a confidential
//! client (limit 1,000), and prints both rates and their ratio.
//!
//! `feed_throughput PUBLIC_URL CLIENT_ID CLIENT_SECRET [EVENTS]`, with the server's
//! TESSERA_* / DATABASE_URL / REDIS_URL settings in the environment.

use std::time::Instant;

use tessera::store::{Cursor, FeedRead, FeedRecord, Revocation};

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [public, id, secret, ..] = args.as_slice() else {
        return Err("usage: feed_throughput PUBLIC_URL CLIENT_ID CLIENT_SECRET [EVENTS]".into());
    };
    let events: usize = args.get(3).map_or(Ok(100_000), |a| a.parse())?;
    let settings = tessera::config::Settings::load(None).map_err(|e| format!("{e:?}"))?;
    let stores = tessera::store::connect((&settings).into()).await?.stores;
    let keep = tessera::service::feed::retention(&settings);
    let now = tessera::clock::Clock::now(&tessera::clock::SystemClock);
    let exp = now.unix_timestamp() + 900;

    let started = Instant::now();
    for batch in 0..events.div_ceil(1000) {
        let records: Vec<FeedRecord> = (0..1000.min(events - batch * 1000))
            .map(|i| FeedRecord {
                event: Revocation::Jti {
                    jti: format!("bench-{batch}-{i}"),
                    exp,
                },
                client_id: Some("bench-owner".into()),
                aud: vec![settings.default_audience.clone()],
            })
            .collect();
        stores.feed.append(&records, now, keep).await?;
    }
    let written = started.elapsed().as_secs_f64();
    println!(
        "events={events} written_per_second={:.0}",
        events as f64 / written
    );

    let started = Instant::now();
    let (mut after, mut read): (Option<Cursor>, usize) = (None, 0);
    loop {
        let FeedRead::Page { records, end } = stores.feed.read(after, 1000).await? else {
            return Err("the feed expired under the benchmark".into());
        };
        if records.is_empty() {
            break;
        }
        read += records.len();
        after = Some(end);
    }
    let store_rate = read as f64 / started.elapsed().as_secs_f64();
    println!("store_read_events={read} store_read_per_second={store_rate:.0}");

    let http = reqwest::Client::new();
    let started = Instant::now();
    let (mut next, mut served): (Option<String>, usize) = (None, 0);
    loop {
        let mut request = http
            .get(format!("{public}/oauth2/revocations"))
            .basic_auth(id, Some(secret))
            .query(&[("limit", "1000")]);
        if let Some(after) = &next {
            request = request.query(&[("after", after)]);
        }
        let page: serde_json::Value = request.send().await?.error_for_status()?.json().await?;
        let n = page["events"].as_array().map_or(0, Vec::len);
        if n == 0 {
            break;
        }
        served += n;
        next = page["next"].as_str().map(str::to_owned);
    }
    let http_rate = served as f64 / started.elapsed().as_secs_f64();
    println!("http_read_events={served} http_read_per_second={http_rate:.0}");
    println!("http_to_store_ratio={:.3}", http_rate / store_rate);
    Ok(())
}

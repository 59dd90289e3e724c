//! Prometheus metrics (book § Endpoints), served on the admin listener at `/metrics`.
//!
//! One process-wide recorder (the `metrics` facade); counters and histograms are recorded
//! where things happen, gauges that describe state (key ages, key-ring version, hash
//! queue) are set just before each scrape.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

const REQUEST_DURATION: &str = "tessera_http_request_duration_seconds";

/// Latency buckets, seconds: from a JWKS hit (~50 µs) to a queued login (seconds).
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process (later calls return the same handle; `None` if
/// another recorder was installed first).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), &BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// This thread's request-histogram handles by route pattern, then method and status.
type Histograms = HashMap<String, HashMap<(&'static str, u16), metrics::Histogram>>;

thread_local! {
    /// A lookup per request instead of building a labelled key (four allocations) and
    /// finding it in the recorder's shared map; bounded by routes x methods x statuses.
    static HISTOGRAMS: RefCell<Histograms> = RefCell::new(HashMap::new());
}

/// One finished HTTP request: count and latency by route pattern (never the raw path, so
/// ids do not explode the series), method and status.
pub fn request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let method = match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    HISTOGRAMS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(route) {
            cache.insert(route.to_owned(), HashMap::new());
        }
        let Some(by_status) = cache.get_mut(route) else {
            return;
        };
        by_status
            .entry((method, status))
            .or_insert_with(|| {
                histogram!(
                    REQUEST_DURATION,
                    "route" => route.to_owned(),
                    "method" => method,
                    "status" => status.to_string()
                )
            })
            .record(elapsed.as_secs_f64());
    });
}

/// Tokens issued, by grant (`password`, `refresh_token`, `client_credentials`, `session`).
pub fn token_issued(grant: &'static str) {
    counter!("tessera_tokens_issued_total", "grant" => grant).increment(1);
}

/// A failed login, by reason (`invalid_credentials`, `unknown_user`, `overloaded`, ...).
pub fn login_failed(reason: &'static str) {
    counter!("tessera_login_failures_total", "reason" => reason).increment(1);
}

/// A completed sign-in, by the factors its `amr` (RFC 8176) names: `password`,
/// `password_otp`, `password_passkey`, `passkey`, `upstream` or `upstream_mfa` (tessera's
/// second factor after an upstream provider).
pub fn signed_in(amr: &[String]) {
    let has = |method: &str| amr.iter().any(|a| a == method);
    let method = match (has("pwd"), has("hwk"), has("otp")) {
        _ if has(crate::domain::methods::FEDERATED) => match has("otp") || has("hwk") {
            true => "upstream_mfa",
            false => "upstream",
        },
        (true, true, _) => "password_passkey",
        (true, false, true) => "password_otp",
        (true, false, false) => "password",
        (false, true, _) => "passkey",
        (false, false, _) => "other",
    };
    counter!("tessera_sign_ins_total", "method" => method).increment(1);
}

/// An upstream sign-in that failed, by provider (book § Upstream providers).
pub fn upstream_failed(provider: &str) {
    counter!("tessera_upstream_failures_total", "provider" => provider.to_owned()).increment(1);
}

/// An outbox message delivered, by kind (book § Email).
pub fn outbox_delivered(kind: &str) {
    counter!("tessera_outbox_sent_total", "kind" => kind.to_owned()).increment(1);
}

/// A message not delivered, by kind and outcome: `retrying`, `gave_up` (the last
/// attempt failed), `expired` (its link expired first: dropped).
pub fn outbox_failed(kind: &str, outcome: &'static str) {
    counter!("tessera_outbox_failures_total", "kind" => kind.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// What the outbox holds now: queued and failed messages, the oldest queued one's age.
pub fn outbox_state(stats: &crate::store::OutboxStats, now: time::OffsetDateTime) {
    gauge!("tessera_outbox_queued").set(stats.queued as f64);
    gauge!("tessera_outbox_failed").set(stats.failed as f64);
    let age = stats
        .oldest
        .map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0));
    gauge!("tessera_outbox_oldest_age_seconds").set(age);
}

/// A request refused by a rate limit, by bucket.
pub fn rate_limited(bucket: &'static str) {
    counter!("tessera_rate_limited_total", "bucket" => bucket).increment(1);
}

pub fn reuse_detected() {
    counter!("tessera_refresh_token_reuse_total").increment(1);
}

/// The Prometheus text exposition, with the state gauges refreshed from the key ring and
/// the hashing pool at `now`.
pub fn render(
    keyring: &crate::tokens::KeyRing,
    hasher: &crate::auth::hashing::PasswordHasher,
    now: time::OffsetDateTime,
) -> String {
    let Some(handle) = install() else {
        return String::new();
    };
    for key in keyring.keys() {
        if key.state == crate::crypto::KeyState::Active {
            let age = key
                .activated_at
                .map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
            gauge!("tessera_signing_key_age_seconds", "alg" => key.alg.as_str()).set(age);
        }
    }
    gauge!("tessera_keyring_version").set(keyring.version() as f64);
    gauge!("tessera_hash_queue_depth").set(hasher.queue_depth() as f64);
    handle.render()
}

/// Drains histogram samples into their buckets (call periodically).
pub fn upkeep() {
    if let Some(handle) = install() {
        handle.run_upkeep();
    }
}

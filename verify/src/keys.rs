//! The JWKS cache: keys kept as long as the issuer's `Cache-Control: max-age` says (within
//! 30 s and 24 h), revalidated with `ETag`, served stale while the issuer is unreachable,
//! dropped when the issuer stops publishing them; an unknown `kid` refetches at most once
//! per 10 s, single-flight, and is remembered as unknown for those 10 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use reqwest::header;

use crate::Algorithm;

/// The shortest and longest time keys are trusted without asking the issuer again.
pub const MIN_MAX_AGE: Duration = Duration::from_secs(30);
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long keys are kept when the issuer sends no `max-age`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// At most one refetch for unknown kids per this long; unknown kids are remembered as long.
pub const MISS_INTERVAL: Duration = Duration::from_secs(10);

/// A published key, ready to verify with its own algorithm.
pub(crate) struct Key {
    pub alg: Algorithm,
    pub verifier: Box<dyn JwsVerifier>,
}

/// One fetched JWKS.
pub(crate) struct KeySet {
    pub keys: HashMap<String, Arc<Key>>,
    etag: Option<String>,
    /// When the keys must be revalidated.
    pub fresh_until: Instant,
}

impl KeySet {
    fn empty() -> Self {
        KeySet {
            keys: HashMap::new(),
            etag: None,
            fresh_until: Instant::now(),
        }
    }
}

/// What one fetch found.
#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// New keys (the set is replaced: keys no longer published are gone).
    Replaced,
    /// `304 Not Modified`: the same keys, fresh again.
    Unchanged,
}

pub(crate) struct KeyCache {
    jwks_uri: String,
    allowed: Vec<Algorithm>,
    current: ArcSwap<KeySet>,
    /// Serialises fetches (single flight) and remembers when the last miss fetched.
    fetch: tokio::sync::Mutex<Option<Instant>>,
    unknown: Mutex<HashMap<String, Instant>>,
}

/// `max-age` from a `Cache-Control` header, clamped; the default without one.
fn max_age(headers: &header::HeaderMap) -> Duration {
    cache_max_age(headers)
        .unwrap_or(DEFAULT_MAX_AGE)
        .clamp(MIN_MAX_AGE, MAX_MAX_AGE)
}

/// The `max-age` a response's `Cache-Control` gives, if any (unclamped).
pub fn cache_max_age(headers: &header::HeaderMap) -> Option<Duration> {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|d| {
            d.trim()
                .strip_prefix("max-age=")?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(Duration::from_secs)
}

/// The usable keys of a JWKS: signing keys with a `kid` and an allowed `alg` of their own.
fn parse_keys(body: &serde_json::Value, allowed: &[Algorithm]) -> HashMap<String, Arc<Key>> {
    let mut keys = HashMap::new();
    for value in body["keys"].as_array().into_iter().flatten() {
        let Some(map) = value.as_object() else {
            continue;
        };
        let (Some(kid), Some(alg)) = (value["kid"].as_str(), value["alg"].as_str()) else {
            continue;
        };
        if value["use"].as_str().is_some_and(|u| u != "sig") {
            continue;
        }
        let Some(alg) = Algorithm::parse(alg).filter(|a| allowed.contains(a)) else {
            continue;
        };
        let Ok(jwk) = Jwk::from_map(map.clone()) else {
            continue;
        };
        match alg.verifier(&jwk) {
            Ok(verifier) => {
                keys.insert(kid.to_owned(), Arc::new(Key { alg, verifier }));
            }
            Err(e) => tracing::warn!(kid, error = %e, "a published key is not usable"),
        }
    }
    keys
}

impl KeyCache {
    pub fn new(jwks_uri: String, allowed: Vec<Algorithm>) -> Self {
        KeyCache {
            jwks_uri,
            allowed,
            current: ArcSwap::from_pointee(KeySet::empty()),
            fetch: tokio::sync::Mutex::new(None),
            unknown: Mutex::new(HashMap::new()),
        }
    }

    /// A cache holding the keys of `jwks` and never fetching (the offline verifier).
    pub fn fixed(jwks: &serde_json::Value, allowed: Vec<Algorithm>) -> Self {
        let cache = Self::new(String::new(), allowed);
        let keys = parse_keys(jwks, &cache.allowed);
        cache.current.store(Arc::new(KeySet {
            keys,
            ..KeySet::empty()
        }));
        cache
    }

    pub fn get(&self, kid: &str) -> Option<Arc<Key>> {
        self.current.load().keys.get(kid).cloned()
    }

    pub fn fresh_until(&self) -> Instant {
        self.current.load().fresh_until
    }

    pub fn kids(&self) -> Vec<String> {
        self.current.load().keys.keys().cloned().collect()
    }

    /// Fetches the JWKS (conditionally, with the last `ETag`); on failure the keys held
    /// stay in use.
    pub async fn refresh(&self, http: &reqwest::Client) -> Result<Refresh, String> {
        let held = self.current.load_full();
        let mut request = http.get(&self.jwks_uri);
        if let Some(etag) = &held.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let lifetime = max_age(response.headers());
        if response.status() == reqwest::StatusCode::NOT_MODIFIED && held.etag.is_some() {
            self.current.store(Arc::new(KeySet {
                keys: held.keys.clone(),
                etag: held.etag.clone(),
                fresh_until: Instant::now() + lifetime,
            }));
            return Ok(Refresh::Unchanged);
        }
        if !response.status().is_success() {
            return Err(format!("the JWKS answered {}", response.status()));
        }
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: serde_json::Value = crate::body::json(response).await?;
        if body["keys"].as_array().is_none() {
            return Err("the JWKS has no keys array".into());
        }
        let keys = parse_keys(&body, &self.allowed);
        if let Ok(mut unknown) = self.unknown.lock() {
            unknown.retain(|kid, _| !keys.contains_key(kid));
        }
        self.current.store(Arc::new(KeySet {
            keys,
            etag,
            fresh_until: Instant::now() + lifetime,
        }));
        Ok(Refresh::Replaced)
    }

    /// The key for a `kid` the cache does not hold: one refetch for every caller that
    /// misses at once, at most one per `MISS_INTERVAL`; a kid still unknown after it is
    /// remembered, so a flood of made-up kids costs the issuer nothing.
    pub async fn on_miss(&self, http: &reqwest::Client, kid: &str) -> Option<Arc<Key>> {
        let remembered = |unknown: &HashMap<String, Instant>| {
            unknown
                .get(kid)
                .is_some_and(|at| at.elapsed() < MISS_INTERVAL)
        };
        if self.unknown.lock().is_ok_and(|u| remembered(&u)) {
            return None;
        }
        let mut last = self.fetch.lock().await;
        // another caller may have fetched while this one waited
        if let Some(key) = self.get(kid) {
            return Some(key);
        }
        if last.is_none_or(|at| at.elapsed() >= MISS_INTERVAL) {
            *last = Some(Instant::now());
            if let Err(e) = self.refresh(http).await {
                tracing::warn!(error = %e, "JWKS refetch for an unknown kid failed");
            }
        }
        drop(last);
        let key = self.get(kid);
        if key.is_none() {
            if let Ok(mut unknown) = self.unknown.lock() {
                // bounded: entries older than the interval go first
                if unknown.len() >= 10_000 {
                    unknown.retain(|_, at| at.elapsed() < MISS_INTERVAL);
                }
                if unknown.len() < 10_000 {
                    unknown.insert(kid.to_owned(), Instant::now());
                }
            }
        }
        key
    }

    /// Refetches while the verifier lives: when the keys' `max-age` runs out, and every
    /// 30 s while the issuer is unreachable (the keys held are served meanwhile).
    pub async fn keep_fresh(cache: std::sync::Weak<crate::Inner>) {
        loop {
            let wait = match cache.upgrade() {
                Some(inner) => inner
                    .keys
                    .fresh_until()
                    .saturating_duration_since(Instant::now()),
                None => return,
            };
            tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
            let Some(inner) = cache.upgrade() else {
                return;
            };
            let _serialised = inner.keys.fetch.lock().await;
            if inner.keys.fresh_until() > Instant::now() {
                continue;
            }
            if let Err(e) = inner.keys.refresh(&inner.http).await {
                tracing::warn!(error = %e, "JWKS refresh failed; serving the keys held");
                let held = inner.keys.current.load_full();
                inner.keys.current.store(Arc::new(KeySet {
                    keys: held.keys.clone(),
                    etag: held.etag.clone(),
                    fresh_until: Instant::now() + MIN_MAX_AGE,
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_and_clamped() {
        let mut h = header::HeaderMap::new();
        assert_eq!(max_age(&h), DEFAULT_MAX_AGE);
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=600"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(max_age(&h), Duration::from_secs(600));
        h.insert(
            header::CACHE_CONTROL,
            "max-age=1".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(max_age(&h), MIN_MAX_AGE);
        h.insert(
            header::CACHE_CONTROL,
            "max-age=9999999".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(max_age(&h), MAX_MAX_AGE);
    }
}

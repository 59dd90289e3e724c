//! Redis connection (book § Run the service): every key under `TESSERA_REDIS_PREFIX`; keys a Lua script
//! touches together share a `{hash tag}` so Redis Cluster works.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

mod browser;
mod conn;
mod families;
mod feed;
mod import;
mod limits;
pub mod policy;
mod revocations;
mod transfer;

pub use conn::Conn;
use conn::Opener;

use super::{Ping, StoreError};
use crate::store::retry::{retry_until, Unreachable};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A shared, self-reconnecting connection to one Redis or a Redis Cluster, and the key
/// prefix.
#[derive(Clone)]
pub struct RedisStore {
    opener: Opener,
    conn: Conn,
    prefix: String,
    /// Identifies this store's connections in each thread's `LOCAL` map.
    id: u64,
}

/// Tells stores apart in `LOCAL` (several apps share a test process).
static NEXT_STORE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a thread waits before trying to open its own connection again after a failure.
const LOCAL_RETRY: Duration = Duration::from_secs(1);

thread_local! {
    /// Each HTTP worker thread's own connection per store (see `RedisStore::connection`),
    /// or when it last failed to open one.
    static LOCAL: std::cell::RefCell<
        std::collections::HashMap<u64, Result<Conn, std::time::Instant>>,
    > = std::cell::RefCell::new(std::collections::HashMap::new());
}

impl RedisStore {
    /// Connects to one Redis at `url`, or with `cluster` to the Redis Cluster whose seed
    /// nodes `url` lists (comma-separated), retrying with backoff for up to `timeout`.
    pub async fn connect(
        url: &SecretString,
        cluster: bool,
        ca: Option<&[u8]>,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, Unreachable> {
        let urls = url.expose_secret();
        let opener = Opener::new(urls, cluster, ca, REQUEST_TIMEOUT)
            .map_err(|_| Unreachable::new("Redis", "REDIS_URL is not a valid Redis URL".into()))?;
        let endpoint = opener.endpoint(urls);
        let conn = retry_until("Redis", &endpoint, timeout, || opener.open()).await?;
        Ok(RedisStore {
            opener,
            conn,
            prefix: prefix.to_owned(),
            id: NEXT_STORE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// `prefix + parts`, e.g. `key(&["fam", "{abc}"])` → `tessera:fam:{abc}`.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        key.push_str(&parts.join(":"));
        key
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A connection for this thread. An HTTP worker (a single-threaded runtime) gets one of
    /// its own, whose driver runs on the worker's thread, so a command and its reply never
    /// hop between threads (measured: refresh rotations 17,300/s with one shared
    /// connection, see BENCHMARKS.md for the per-worker figure). Elsewhere, and while a
    /// worker cannot open its own, the shared connection serves; both reconnect by
    /// themselves after an outage.
    pub async fn connection(&self) -> Conn {
        let worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        if !worker {
            return self.conn.clone();
        }
        let known = LOCAL.with(|local| local.borrow().get(&self.id).cloned());
        match known {
            Some(Ok(conn)) => return conn,
            Some(Err(failed)) if failed.elapsed() < LOCAL_RETRY => return self.conn.clone(),
            _ => {}
        }
        let opened = tokio::time::timeout(REQUEST_TIMEOUT, self.opener.open()).await;
        let entry = match opened {
            Ok(Ok(conn)) => Ok(conn),
            _ => Err(std::time::Instant::now()),
        };
        LOCAL.with(|local| local.borrow_mut().insert(self.id, entry.clone()));
        entry.unwrap_or_else(|_| self.conn.clone())
    }
}

pub(crate) fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable {
        backend: "redis",
        source: e.into(),
    }
}

#[async_trait]
impl Ping for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        let reply: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Corrupt("unexpected PING reply".into()))
        }
    }
}

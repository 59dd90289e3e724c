//! Redis connection (SPEC S1): every key under `TESSERA_REDIS_PREFIX`; keys a Lua script
//! touches together share a `{hash tag}` so Redis Cluster works.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

mod browser;
mod families;
mod feed;
mod limits;
pub mod policy;
mod revocations;
mod transfer;

use super::{Change, ChangeBus, ChangeStream, Ping, StoreError};
use crate::store::retry::{retry_until, Unreachable};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A shared, self-reconnecting Redis connection and the key prefix.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    config: ConnectionManagerConfig,
    conn: ConnectionManager,
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
        std::collections::HashMap<u64, Result<ConnectionManager, std::time::Instant>>,
    > = std::cell::RefCell::new(std::collections::HashMap::new());
}

impl RedisStore {
    /// Connects, retrying with backoff for up to `timeout`.
    pub async fn connect(
        url: &SecretString,
        ca: Option<&[u8]>,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, Unreachable> {
        let invalid = |_| Unreachable::new("Redis", "REDIS_URL is not a valid Redis URL".into());
        let client = if url.expose_secret().starts_with("rediss://") {
            // rustls, verifying the certificate against the private CA or the system's roots
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: ca.map(<[u8]>::to_vec),
            };
            redis::Client::build_with_tls(url.expose_secret(), certificates).map_err(invalid)?
        } else {
            redis::Client::open(url.expose_secret()).map_err(invalid)?
        };
        let endpoint = client.get_connection_info().addr.to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(REQUEST_TIMEOUT)
            .set_response_timeout(REQUEST_TIMEOUT)
            .set_number_of_retries(1);
        let conn = retry_until("Redis", &endpoint, timeout, || {
            ConnectionManager::new_with_config(client.clone(), config.clone())
        })
        .await?;
        Ok(RedisStore {
            client,
            config,
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
    pub async fn connection(&self) -> ConnectionManager {
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
        let opened = tokio::time::timeout(
            REQUEST_TIMEOUT,
            ConnectionManager::new_with_config(self.client.clone(), self.config.clone()),
        )
        .await;
        let entry = match opened {
            Ok(Ok(conn)) => Ok(conn),
            _ => Err(std::time::Instant::now()),
        };
        LOCAL.with(|local| local.borrow_mut().insert(self.id, entry.clone()));
        entry.unwrap_or_else(|_| self.conn.clone())
    }

    /// The channel instances announce changes on (SPEC S1: key-ring change notifications).
    fn changes_channel(&self) -> String {
        self.key(&["changes"])
    }
}

#[async_trait]
impl ChangeBus for RedisStore {
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        redis::cmd("PUBLISH")
            .arg(self.changes_channel())
            .arg(change.to_message())
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn subscribe(&self) -> Result<ChangeStream, StoreError> {
        let mut pubsub = tokio::time::timeout(REQUEST_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|e| StoreError::Unavailable {
                backend: "redis",
                source: e.into(),
            })?
            .map_err(unavailable)?;
        pubsub
            .subscribe(self.changes_channel())
            .await
            .map_err(unavailable)?;
        let changes = pubsub.into_on_message().filter_map(|message| {
            let change = message
                .get_payload::<String>()
                .ok()
                .and_then(|payload| Change::from_message(&payload));
            if change.is_none() {
                tracing::debug!("ignored an unknown change notification");
            }
            std::future::ready(change)
        });
        Ok(changes.boxed())
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

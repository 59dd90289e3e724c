//! Redis connection (SPEC S1): every key under `TESSERA_REDIS_PREFIX`; keys a Lua script
//! touches together share a `{hash tag}` so Redis Cluster works.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

mod families;
mod limits;

use super::{Change, ChangeBus, Ping, StoreError};
use crate::startup::retry::{retry_until, Unreachable};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A shared, self-reconnecting Redis connection and the key prefix.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

impl RedisStore {
    /// Connects, retrying with backoff for up to `timeout`.
    pub async fn connect(
        url: &SecretString,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, Unreachable> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|_| Unreachable::new("Redis", "REDIS_URL is not a valid Redis URL".into()))?;
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
            conn,
            prefix: prefix.to_owned(),
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

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The channel instances announce changes on (SPEC S1: key-ring change notifications).
    fn changes_channel(&self) -> String {
        self.key(&["changes"])
    }

    /// A dedicated connection subscribed to the change channel.
    pub async fn subscribe_changes(&self) -> Result<redis::aio::PubSub, StoreError> {
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
        Ok(pubsub)
    }
}

#[async_trait]
impl ChangeBus for RedisStore {
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        let mut conn = self.connection();
        redis::cmd("PUBLISH")
            .arg(self.changes_channel())
            .arg(change.to_message())
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
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
        let mut conn = self.conn.clone();
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

//! A short-lived in-process cache in front of any `ClientStore` (decorator): the token
//! endpoint looks a client up on every request, which made Postgres the bottleneck of
//! `client_credentials`. Entries (including "no such client") live for the TTL, so a client
//! change made elsewhere takes effect within it; changes made through this instance call
//! `invalidate`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{ClientStore, StoreError};
use crate::domain::{Client, ClientId, NewClient};

/// Entries kept at most; past that the cache starts over (bounded memory under a flood
/// of random client ids).
const MAX_ENTRIES: usize = 10_000;

pub struct CachedClients {
    inner: Arc<dyn ClientStore>,
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Option<Client>)>>,
}

impl CachedClients {
    pub fn new(inner: Arc<dyn ClientStore>, ttl: Duration) -> Self {
        CachedClients {
            inner,
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn invalidate(&self, id: &ClientId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(id.as_str());
        }
    }
}

#[async_trait]
impl ClientStore for CachedClients {
    async fn create_client(
        &self,
        id: &ClientId,
        client: NewClient,
        secret_sha256: Option<[u8; 32]>,
        now: OffsetDateTime,
    ) -> Result<Client, StoreError> {
        let created = self
            .inner
            .create_client(id, client, secret_sha256, now)
            .await?;
        self.invalidate(id);
        Ok(created)
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        if let Ok(entries) = self.entries.read() {
            if let Some((at, client)) = entries.get(id.as_str()) {
                if at.elapsed() < self.ttl {
                    return Ok(client.clone());
                }
            }
        }
        let client = self.inner.find_client(id).await?;
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id.as_str().to_owned(), (Instant::now(), client.clone()));
        }
        Ok(client)
    }
}

//! A short-lived in-process cache in front of any `ClientStore` (decorator): the token
//! endpoint looks a client up on every request, which made Postgres the bottleneck of
//! `client_credentials`. Entries (including "no such client") live for the TTL, so a client
//! change made elsewhere takes effect within it; changes made through this instance call
//! `invalidate` (and so do changes announced by other instances).

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

    fn forget(&self, id: &ClientId) {
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
        self.forget(id);
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

    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: usize,
    ) -> Result<Vec<Client>, StoreError> {
        self.inner.list_clients(after, limit).await
    }

    async fn update_client(
        &self,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = self.inner.update_client(client, now).await;
        self.forget(&client.id);
        updated
    }

    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let updated = self.inner.set_client_secret(id, secret_sha256, now).await;
        self.forget(id);
        updated
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let deleted = self.inner.delete_client(id).await;
        self.forget(id);
        deleted
    }

    fn invalidate(&self, id: &ClientId) {
        self.forget(id);
    }
}

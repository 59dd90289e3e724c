//! A short-lived in-process cache in front of any `ClientStore` (decorator): the token
//! endpoint looks a client up on every request, which made Postgres the bottleneck of
//! `client_credentials`. Entries, including "no such client", live for the TTL, so a client
//! change made elsewhere takes effect within it, and a flood of made-up client ids costs
//! one database query per id, not one per request; changes made through this instance
//! call `invalidate` (and so do changes announced by other instances). The cache is moka's
//! (bounded, TinyLFU admission): ids seen once cannot push out the clients in real use.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{ClientStore, StoreError};
use crate::domain::{Client, ClientId};

/// Entries kept at most.
const MAX_ENTRIES: u64 = 10_000;

pub struct CachedClients {
    inner: Arc<dyn ClientStore>,
    entries: moka::sync::Cache<String, Option<Client>>,
}

impl CachedClients {
    pub fn new(inner: Arc<dyn ClientStore>, ttl: Duration) -> Self {
        CachedClients {
            inner,
            entries: moka::sync::Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
        }
    }

    fn forget(&self, id: &ClientId) {
        self.entries.invalidate(id.as_str());
    }
}

#[async_trait]
impl ClientStore for CachedClients {
    async fn create_client(&self, client: &Client, now: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.create_client(client, now).await?;
        self.forget(&client.id);
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        if let Some(client) = self.entries.get(id.as_str()) {
            return Ok(client);
        }
        let client = self.inner.find_client(id).await?;
        self.entries.insert(id.as_str().to_owned(), client.clone());
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::GrantType;

    /// A store that knows one client and counts its lookups.
    struct Counting {
        lookups: AtomicUsize,
        known: Client,
    }

    #[async_trait]
    impl ClientStore for Counting {
        async fn create_client(&self, _: &Client, _: OffsetDateTime) -> Result<(), StoreError> {
            Ok(())
        }
        async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
            self.lookups.fetch_add(1, Ordering::Relaxed);
            Ok((*id == self.known.id).then(|| self.known.clone()))
        }
        async fn list_clients(
            &self,
            _: Option<&ClientId>,
            _: usize,
        ) -> Result<Vec<Client>, StoreError> {
            Ok(Vec::new())
        }
        async fn update_client(&self, _: &Client, _: OffsetDateTime) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn set_client_secret(
            &self,
            _: &ClientId,
            _: [u8; 32],
            _: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn delete_client(&self, _: &ClientId) -> Result<bool, StoreError> {
            Ok(true)
        }
    }

    #[tokio::test]
    async fn a_flood_of_unknown_ids_does_not_push_out_the_clients_in_use() {
        let known = Client {
            id: ClientId::parse("busy-service").unwrap(),
            name: "busy".into(),
            secret_sha256: Some([1; 32]),
            public: false,
            first_party: false,
            grant_types: vec![GrantType::ClientCredentials],
            scopes: Vec::new(),
            audiences: Vec::new(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            id_token_alg: crate::crypto::SigningAlg::Rs256,
            access_token_ttl: None,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            security: Default::default(),
        };
        let store = Arc::new(Counting {
            lookups: AtomicUsize::new(0),
            known: known.clone(),
        });
        let cache = CachedClients::new(store.clone(), Duration::from_secs(300));
        for _ in 0..20 {
            assert!(cache.find_client(&known.id).await.unwrap().is_some());
        }
        assert_eq!(store.lookups.load(Ordering::Relaxed), 1);
        // a flood of made-up ids while the busy client keeps working (one of its requests
        // per 50 of the flood): on a cache that starts over when full, every restart costs
        // the busy client a lookup again
        let mut known_lookups = 0;
        for n in 0..(3 * MAX_ENTRIES) {
            let id = ClientId::parse(&format!("made-up-{n}")).unwrap();
            let before = store.lookups.load(Ordering::Relaxed);
            assert!(cache.find_client(&id).await.unwrap().is_none());
            assert_eq!(store.lookups.load(Ordering::Relaxed), before + 1);
            if n % 50 == 0 {
                let before = store.lookups.load(Ordering::Relaxed);
                assert!(cache.find_client(&known.id).await.unwrap().is_some());
                known_lookups += store.lookups.load(Ordering::Relaxed) - before;
            }
        }
        assert!(
            known_lookups <= 1,
            "the busy client was looked up {known_lookups} times during the flood"
        );
        cache.entries.run_pending_tasks();
        assert!(cache.entries.entry_count() <= MAX_ENTRIES);
    }
}

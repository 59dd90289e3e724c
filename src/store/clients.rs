//! OAuth clients (book § Endpoints, book § Command line).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{Client, ClientId};

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client as given (its id is new; the service generated it).
    async fn create_client(&self, client: &Client, now: OffsetDateTime) -> Result<(), StoreError>;
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    /// Clients ordered by id, starting after `after` (keyset pagination).
    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: usize,
    ) -> Result<Vec<Client>, StoreError>;
    /// Stores the editable fields of `client` (name, first_party, grants, scopes,
    /// audiences, redirect URIs). Returns false if the client is gone.
    async fn update_client(&self, client: &Client, now: OffsetDateTime)
        -> Result<bool, StoreError>;
    /// Replaces a confidential client's secret digest. False if no such confidential client.
    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError>;
    /// Forgets anything cached about `id` (a change announced by another instance).
    fn invalidate(&self, _id: &ClientId) {}
}

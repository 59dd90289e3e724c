//! Upstream identity providers as stored (book § Upstream providers): one row each, the
//! settings as a JSON document and the client secret sealed under the KEK.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{Provider, ProviderId};

/// How `ProviderStore::write_provider` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderWrite {
    /// A new provider; refused (false) when its id is taken.
    Create,
    /// A provider's new settings and secret; refused (false) when there is none with its id.
    Replace,
}

#[async_trait]
pub trait ProviderStore: Send + Sync {
    /// Writes `provider` as `how` says; whether it was written.
    async fn write_provider(
        &self,
        provider: &Provider,
        how: ProviderWrite,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn find_provider(&self, id: &ProviderId) -> Result<Option<Provider>, StoreError>;
    /// Every provider, by id.
    async fn list_providers(&self) -> Result<Vec<Provider>, StoreError>;
    /// False when there was none with this id.
    async fn delete_provider(&self, id: &ProviderId) -> Result<bool, StoreError>;
}

/// A stored row back into a provider: the id and the settings document as written.
pub fn provider_from_row(
    id: &str,
    settings: &str,
    client_secret_sealed: Option<Vec<u8>>,
) -> Result<Provider, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("provider {id}: {what}"));
    Ok(Provider {
        id: ProviderId::parse(id).map_err(|_| corrupt("id"))?,
        settings: serde_json::from_str(settings).map_err(|_| corrupt("settings"))?,
        client_secret_sealed,
    })
}

/// A provider's settings as the document a row holds.
pub fn settings_document(provider: &Provider) -> Result<String, StoreError> {
    serde_json::to_string(&provider.settings).map_err(|e| StoreError::Other(e.into()))
}

//! What a backend's `keys rewrap` works with (book § Signing keys): the sealed items it holds, named by
//! their rows, and the closure that re-seals each under the new KEK.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::UserId;

/// One sealed item `keys rewrap` re-seals, named by its row.
#[derive(Debug, Clone, Copy)]
pub enum SealedItem<'a> {
    SigningKey(&'a str),
    TotpSecret(UserId),
    OutboxMessage(crate::domain::MessageId),
    ProviderSecret(&'a str),
}

impl std::fmt::Display for SealedItem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealedItem::SigningKey(kid) => write!(f, "signing key {kid}"),
            SealedItem::TotpSecret(user) => write!(f, "TOTP secret of user {user}"),
            SealedItem::OutboxMessage(id) => write!(f, "outbox message {id}"),
            SealedItem::ProviderSecret(id) => write!(f, "client secret of provider {id}"),
        }
    }
}

/// Opens an item under the current KEK and seals it under the new one.
pub type Resealer<'a> = dyn Fn(SealedItem<'_>, &[u8]) -> Result<Vec<u8>, RewrapError> + Sync + 'a;

/// What `keys rewrap` re-sealed.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct RewrapReport {
    pub signing_keys: usize,
    pub totp_secrets: usize,
    pub outbox_messages: usize,
    pub provider_secrets: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    #[error("{item} does not open with the current KEK ({reason}); nothing was changed")]
    Unseal { item: String, reason: String },
    #[error(transparent)]
    Store(StoreError),
}

/// A backend holding items sealed under the KEK.
#[async_trait]
pub trait SealedStore: Send + Sync {
    /// Re-seals every item with `reseal` in one transaction: all or nothing.
    async fn rewrap(&self, reseal: &Resealer<'_>) -> Result<RewrapReport, RewrapError>;
}

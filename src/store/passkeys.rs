//! Passkeys (WebAuthn Level 3, book § Passkeys): each user's registered discoverable credentials.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{PasskeyId, UserId};

/// A registered passkey as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPasskey {
    pub id: PasskeyId,
    pub user_id: UserId,
    /// The WebAuthn credential id (unique across users).
    pub credential_id: Vec<u8>,
    /// The user's name for it.
    pub name: String,
    /// What verifying an assertion needs (public key, sign counter, backup flags), as the
    /// WebAuthn library serialises it.
    pub credential: serde_json::Value,
    /// The last sign counter accepted.
    pub counter: u32,
    /// Whether the authenticator reported it backed up (synced) at its last use.
    pub backed_up: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// What one verified use of a passkey changes.
#[derive(Debug, Clone)]
pub struct PasskeyUse {
    /// The counter the use was verified against: the write happens only if it is still
    /// stored, so two uses of one counter value cannot both be recorded.
    pub seen_counter: u32,
    pub counter: u32,
    pub backed_up: bool,
    pub credential: serde_json::Value,
}

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Adds a passkey, and `notice` (its security notice) in the same transaction; false
    /// (nothing written) when its credential id is registered already.
    async fn add_passkey(
        &self,
        passkey: &StoredPasskey,
        notice: Option<&super::OutboxMessage>,
    ) -> Result<bool, StoreError>;
    /// The user's passkeys, oldest first.
    async fn user_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError>;
    /// The passkey with this WebAuthn credential id.
    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError>;
    /// Records a verified use at `now`, if the stored counter is still `used.seen_counter`;
    /// false when the passkey is gone or another use was recorded first.
    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        used: &PasskeyUse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Renames the user's passkey; false when the user has no passkey `id`.
    async fn rename_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        name: &str,
    ) -> Result<bool, StoreError>;
    /// Deletes the user's passkey, writing `notice` in the same transaction; false (and no
    /// notice) when the user has no passkey `id`.
    async fn delete_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        notice: Option<&super::OutboxMessage>,
    ) -> Result<bool, StoreError>;
}

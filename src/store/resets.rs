//! Password reset tokens (book § Configuration).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::UserId;

/// What a presented reset token is looked up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetUse {
    /// Read it (the reset form checks the link before asking for a password).
    Find,
    /// Use it up (the reset itself).
    Consume,
}

/// Password reset tokens (book § Configuration), by the SHA-256 of the token.
#[async_trait]
pub trait ResetStore: Send + Sync {
    /// Stores a reset token and, in the same transaction, the outbox `message` that
    /// delivers it.
    async fn create_reset(
        &self,
        token_sha256: [u8; 32],
        user: UserId,
        expires_at: OffsetDateTime,
        message: &super::OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The user of an unused, unexpired token; `Consume` also uses it up, which succeeds
    /// once, for a token of a live user.
    async fn use_reset(
        &self,
        token_sha256: [u8; 32],
        how: ResetUse,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError>;
    /// Makes every outstanding reset token of `user` unusable (a completed reset or a
    /// password change, book § Configuration); returns how many.
    async fn revoke_user_resets(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

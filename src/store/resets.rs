//! Password reset tokens (book § Configuration).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;

/// Password reset tokens (book § Configuration), by the SHA-256 of the token.
#[async_trait]
pub trait ResetStore: Send + Sync {
    async fn create_reset(
        &self,
        token_sha256: [u8; 32],
        user: crate::domain::UserId,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The user of an unused, unexpired token (without using it).
    async fn find_reset(
        &self,
        token_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<crate::domain::UserId>, StoreError>;
    /// Uses the token: succeeds once, for an unused, unexpired token of a live user.
    async fn consume_reset(
        &self,
        token_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<crate::domain::UserId>, StoreError>;
    /// Makes every outstanding reset token of `user` unusable (a completed reset or a
    /// password change, book § Configuration); returns how many.
    async fn revoke_user_resets(
        &self,
        user: crate::domain::UserId,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

//! Pending MFA logins (RFC 6749, book § Endpoints) and other short-lived, single-use
//! records: pending upstream trips, pushed authorization requests, seen `jti`s.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;

/// Short-lived single-use MFA login tokens (RFC 6749, book § Endpoints), by SHA-256.
#[async_trait]
pub trait MfaTokenStore: Send + Sync {
    async fn put_mfa_token(
        &self,
        digest: &str,
        value: &str,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Puts the token unless an unexpired one is held under `digest`: `true` for exactly
    /// one caller (a replay cache: DPoP proofs, client assertions).
    async fn put_new_mfa_token(
        &self,
        digest: &str,
        value: &str,
        ttl: std::time::Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// The token's value while it is unexpired at `now`.
    async fn get_mfa_token(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError>;
    /// Takes it away: `Some` for exactly one caller, while it is unexpired at `now`.
    async fn take_mfa_token(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError>;
}

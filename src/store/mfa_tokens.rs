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
    /// Records `digest` as seen for `ttl`: `true` for exactly one caller while the record
    /// lasts (the replay cache of DPoP proofs and client assertions; kept apart from the
    /// tokens above where the backend allows).
    async fn mark_seen(
        &self,
        digest: &str,
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

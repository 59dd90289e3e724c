//! Access-token revocation state: the blocklist and per-user cut-offs (RFC 9068, book § Endpoints).

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::UserId;

/// What is known about an access token's revocation (RFC 9068, book § Endpoints), read in one round trip.
#[derive(Debug, Default)]
pub struct TokenState {
    pub blocklisted: bool,
    /// For user tokens: whether the session (refresh family) still exists.
    pub session_alive: Option<bool>,
    /// Tokens of this user issued before this time are invalid.
    pub cutoff: Option<OffsetDateTime>,
}

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Blocklists an access token's `jti` for the rest of its lifetime.
    async fn blocklist(
        &self,
        jti: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Invalidates every access token of `user` issued before `at` (O(1)).
    async fn set_cutoff(
        &self,
        user: UserId,
        at: OffsetDateTime,
        ttl: Duration,
    ) -> Result<(), StoreError>;
    async fn token_state(
        &self,
        jti: &str,
        sid: Option<&str>,
        user: Option<UserId>,
        now: OffsetDateTime,
    ) -> Result<TokenState, StoreError>;
}

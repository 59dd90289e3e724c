//! Pending MFA logins in memory (RFC 6749, book § Endpoints): single use, short-lived, bounded.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use std::sync::Arc;

use crate::clock::Clock;

use crate::store::{MfaTokenStore, StoreError};

/// More pending logins than this and the least recently used are dropped.
const CAPACITY: u64 = 100_000;

/// Digest → (value, expiry).
pub struct MemoryMfaTokens {
    tokens: moka::sync::Cache<String, (String, OffsetDateTime)>,
    clock: Arc<dyn Clock>,
}

impl MemoryMfaTokens {
    /// No pending logins; they expire by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryMfaTokens {
            tokens: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                // no pending login outlives an hour, whatever TTL it asked for
                .time_to_live(Duration::from_secs(3600))
                .build(),
            clock,
        }
    }
}

#[async_trait]
impl MfaTokenStore for MemoryMfaTokens {
    async fn put_mfa_token(
        &self,
        digest: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires = self.clock.now() + ttl.max(Duration::from_secs(1));
        self.tokens
            .insert(digest.to_owned(), (value.to_owned(), expires));
        Ok(())
    }

    async fn get_mfa_token(&self, digest: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .tokens
            .get(digest)
            .filter(|(_, expires)| *expires > self.clock.now())
            .map(|(value, _)| value))
    }

    async fn take_mfa_token(&self, digest: &str) -> Result<Option<String>, StoreError> {
        // `remove` hands the entry to exactly one caller
        Ok(self
            .tokens
            .remove(digest)
            .filter(|(_, expires)| *expires > self.clock.now())
            .map(|(value, _)| value))
    }
}

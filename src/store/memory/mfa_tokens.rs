//! Pending MFA logins in memory (RFC 6749, README § Endpoints): single use, short-lived, bounded.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::wall;
use crate::store::{MfaTokenStore, StoreError};

/// More pending logins than this and the least recently used are dropped.
const CAPACITY: u64 = 100_000;

/// Digest → (value, expiry).
pub struct MemoryMfaTokens(moka::sync::Cache<String, (String, OffsetDateTime)>);

impl Default for MemoryMfaTokens {
    fn default() -> Self {
        MemoryMfaTokens(
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                // no pending login outlives an hour, whatever TTL it asked for
                .time_to_live(Duration::from_secs(3600))
                .build(),
        )
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
        let expires = wall() + ttl.max(Duration::from_secs(1));
        self.0
            .insert(digest.to_owned(), (value.to_owned(), expires));
        Ok(())
    }

    async fn get_mfa_token(&self, digest: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .get(digest)
            .filter(|(_, expires)| *expires > wall())
            .map(|(value, _)| value))
    }

    async fn take_mfa_token(&self, digest: &str) -> Result<Option<String>, StoreError> {
        // `remove` hands the entry to exactly one caller
        Ok(self
            .0
            .remove(digest)
            .filter(|(_, expires)| *expires > wall())
            .map(|(value, _)| value))
    }
}

//! Pending MFA logins in memory (RFC 6749, book § Endpoints): single use, short-lived, bounded.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::{MfaTokenStore, StoreError};

/// More pending logins than this and the least recently used are dropped.
const CAPACITY: u64 = 100_000;

/// Digest → (value, expiry).
pub struct MemoryMfaTokens {
    tokens: moka::sync::Cache<String, (String, OffsetDateTime)>,
}

impl Default for MemoryMfaTokens {
    /// No pending logins. Each expires at the `now` it was put plus its TTL, judged
    /// against the `now` it is read at.
    fn default() -> Self {
        MemoryMfaTokens {
            tokens: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                // no pending login outlives an hour, whatever TTL it asked for
                .time_to_live(Duration::from_secs(3600))
                .build(),
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
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let expires = now + ttl.max(Duration::from_secs(1));
        self.tokens
            .insert(digest.to_owned(), (value.to_owned(), expires));
        Ok(())
    }

    async fn put_new_mfa_token(
        &self,
        digest: &str,
        value: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expires = now + ttl.max(Duration::from_secs(1));
        // the entry is computed under the cache's lock for this key: one caller wins
        let result = self
            .tokens
            .entry_by_ref(digest)
            .and_compute_with(|held| match held {
                Some(entry) if entry.value().1 > now => moka::ops::compute::Op::Nop,
                _ => moka::ops::compute::Op::Put((value.to_owned(), expires)),
            });
        Ok(!matches!(
            result,
            moka::ops::compute::CompResult::Unchanged(_)
                | moka::ops::compute::CompResult::StillNone(_)
        ))
    }

    async fn get_mfa_token(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        Ok(unexpired(self.tokens.get(digest), now))
    }

    async fn take_mfa_token(
        &self,
        digest: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        // `remove` hands the entry to exactly one caller
        Ok(unexpired(self.tokens.remove(digest), now))
    }
}

/// The value of an entry that has not expired at `now`.
fn unexpired(entry: Option<(String, OffsetDateTime)>, now: OffsetDateTime) -> Option<String> {
    entry
        .filter(|(_, expires)| *expires > now)
        .map(|(value, _)| value)
}

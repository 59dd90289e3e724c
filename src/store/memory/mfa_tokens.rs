//! Pending MFA logins in memory (RFC 6749, book § Endpoints): single use, short-lived, bounded.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::{MfaTokenStore, StoreError};

/// More pending logins than this and the least recently used are dropped.
const CAPACITY: u64 = 100_000;

/// The most replay records (DPoP and assertion `jti`s) held at once: at most about 60 MiB.
/// Past it, expired ones are swept; if none have expired, the check answers "unavailable"
/// (a 503) rather than forget one, so a flood cannot make a replay pass.
const SEEN_CAPACITY: usize = 500_000;

/// Digest → (value, expiry); and the replay records apart, so a flood of proofs never
/// pushes out a pending login.
pub struct MemoryMfaTokens {
    tokens: moka::sync::Cache<String, (String, OffsetDateTime)>,
    seen: std::sync::Mutex<std::collections::HashMap<String, OffsetDateTime>>,
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
            seen: Default::default(),
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

    async fn mark_seen(
        &self,
        digest: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let expires = now + ttl.max(Duration::from_secs(1));
        let full = || StoreError::Unavailable {
            backend: "replay cache",
            source: anyhow::anyhow!("{SEEN_CAPACITY} unexpired replay records"),
        };
        let mut seen = self.seen.lock().map_err(|_| full())?;
        if seen.get(digest).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        if seen.len() >= SEEN_CAPACITY {
            seen.retain(|_, until| *until > now);
            if seen.len() >= SEEN_CAPACITY {
                return Err(full());
            }
        }
        seen.insert(digest.to_owned(), expires);
        Ok(true)
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test]
    async fn a_record_is_seen_once_until_it_expires_and_never_pushes_out_a_login() {
        let store = MemoryMfaTokens::default();
        let now = datetime!(2026-12-07 12:00 UTC);
        let ttl = Duration::from_secs(120);
        store
            .put_mfa_token("login", "pending", ttl, now)
            .await
            .unwrap();
        assert!(store.mark_seen("proof", ttl, now).await.unwrap());
        assert!(!store.mark_seen("proof", ttl, now).await.unwrap());
        let later = now + Duration::from_secs(121);
        assert!(store.mark_seen("proof", ttl, later).await.unwrap());
        // a record never stands in for a token of the same digest, nor the reverse
        assert!(store.mark_seen("login", ttl, now).await.unwrap());
        assert_eq!(
            store.get_mfa_token("login", now).await.unwrap().as_deref(),
            Some("pending")
        );
    }
}

//! Rate limits and account lockout (book § Configuration).

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::RateLimit;

/// One rate-limiter hit (book § Configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub remaining: u32,
    /// Until the limiter is fully replenished.
    pub reset: Duration,
    /// When refused: until the next request would be allowed.
    pub retry_after: Duration,
}

/// Lockout policy for `LimitStore::login_attempt` (book § Configuration).
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Consecutive failures from one network that lock the account for that network.
    pub threshold: u32,
    /// The first lock's length; each further lock doubles it, up to `max`.
    pub base: Duration,
    pub max: Duration,
    /// Attempts per `ceiling_period` from networks the account has not signed in from
    /// recently, across all of them (0: no ceiling).
    pub ceiling: u32,
    pub ceiling_period: Duration,
}

/// Shared, atomic abuse counters (book § Configuration): every instance sees the same counts.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts a request against `key` (GCRA: `limit.count` per `limit.period`, bursts up
    /// to `limit.count`), or refuses it.
    async fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError>;
    /// Counts a password attempt on `account` from `network` before it is checked; answers
    /// `Some(retry_after)` (whole seconds) when the account is locked for that network (or this
    /// attempt locked it), or the account's ceiling is reached and `network` is not one it
    /// signed in from within the remembered time.
    async fn login_attempt(
        &self,
        account: &str,
        network: &str,
        policy: LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<Option<Duration>, StoreError>;
    /// A successful login from `network`: its count and lock are gone, and the network is
    /// remembered as the account's for `remember` (exempt from the ceiling).
    async fn login_succeeded(
        &self,
        account: &str,
        network: &str,
        remember: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// A reset or an operator unlock: every network's count and lock, and the ceiling.
    async fn clear_lockout(&self, account: &str) -> Result<(), StoreError>;
}

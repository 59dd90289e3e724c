//! Rate limits and account lockout in Redis (book § Configuration): each check is one Lua call on one
//! key, so concurrent requests on any instance are counted exactly.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, RedisStore};
use crate::domain::RateLimit;
use crate::store::{LimitStore, LockoutPolicy, RateDecision, StoreError};

static GCRA: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(concat!(
        include_str!("gcra_step.lua"),
        include_str!("gcra.lua")
    ))
});
static LOCKOUT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(concat!(
        include_str!("gcra_step.lua"),
        include_str!("lockout.lua")
    ))
});

/// How long lockout state outlives the last attempt: a day of good behaviour resets the
/// doubling.
const LOCKOUT_MEMORY_SECS: u64 = 86_400;

/// How long an epoch outlives the last reset: past the longest lock plus its memory.
const EPOCH_MEMORY_SECS: u64 = 8 * 86_400;

impl RedisStore {
    /// A key of `account`'s lockout state; all of them share the account's hash tag.
    fn lockout_key(&self, account: &str, parts: &[&str]) -> String {
        let tag = format!("{{{account}}}");
        let mut all = vec!["lock", tag.as_str()];
        all.extend_from_slice(parts);
        self.key(&all)
    }
}

#[async_trait]
impl LimitStore for RedisStore {
    async fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision, StoreError> {
        let RateLimit {
            count: limit,
            period,
        } = limit;
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
        let mut conn = self.connection().await;
        let (allowed, remaining, reset_ms, retry_after_ms): (i64, i64, i64, i64) = GCRA
            .key(self.key(&["rl", key]))
            .arg(now_ms)
            .arg(limit)
            .arg(period_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let millis = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(0));
        Ok(RateDecision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            reset: millis(reset_ms),
            retry_after: millis(retry_after_ms),
        })
    }

    async fn login_attempt(
        &self,
        account: &str,
        network: &str,
        policy: LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<Option<Duration>, StoreError> {
        let mut conn = self.connection().await;
        let (allowed, retry_after): (i64, i64) = LOCKOUT
            .key(self.lockout_key(account, &["net", network]))
            .key(self.lockout_key(account, &["ceiling"]))
            .key(self.lockout_key(account, &["known", network]))
            .key(self.lockout_key(account, &["epoch"]))
            .arg(now.unix_timestamp())
            .arg(policy.threshold)
            .arg(policy.base.as_secs())
            .arg(policy.max.as_secs())
            .arg(LOCKOUT_MEMORY_SECS)
            .arg(policy.ceiling)
            .arg(policy.ceiling_period.as_secs().max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok((allowed != 1)
            .then(|| Duration::from_secs(u64::try_from(retry_after).unwrap_or(1).max(1))))
    }

    async fn login_succeeded(
        &self,
        account: &str,
        network: &str,
        remember: Duration,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        redis::pipe()
            .del(self.lockout_key(account, &["net", network]))
            .ignore()
            .set_ex(
                self.lockout_key(account, &["known", network]),
                1,
                remember.as_secs().max(1),
            )
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn clear_lockout(&self, account: &str) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        let epoch = self.lockout_key(account, &["epoch"]);
        redis::pipe()
            .incr(&epoch, 1)
            .ignore()
            .expire(&epoch, EPOCH_MEMORY_SECS as i64)
            .ignore()
            .del(self.lockout_key(account, &["ceiling"]))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl crate::store::MfaTokenStore for RedisStore {
    async fn put_mfa_token(
        &self,
        digest: &str,
        value: &str,
        ttl: Duration,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        redis::cmd("SET")
            .arg(self.key(&["mfa", digest]))
            .arg(value)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn mark_seen(
        &self,
        digest: &str,
        ttl: Duration,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.connection().await;
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(&["seen", digest]))
            .arg("1")
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn get_mfa_token(
        &self,
        digest: &str,
        _now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.connection().await;
        redis::cmd("GET")
            .arg(self.key(&["mfa", digest]))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn take_mfa_token(
        &self,
        digest: &str,
        _now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.connection().await;
        redis::cmd("GETDEL")
            .arg(self.key(&["mfa", digest]))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}

//! Rate limits and lockout in memory (book § Configuration, book § Run the service): the same GCRA and lockout rules as
//! `gcra.lua` and `lockout.lua`, each check one atomic update of one cache entry.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use moka::ops::compute::Op;
use time::OffsetDateTime;

use crate::domain::RateLimit;
use crate::store::{LimitStore, LockoutPolicy, RateDecision, StoreError};

/// Counters kept at most; beyond it the least recently used are forgotten.
const CAPACITY: u64 = 1_000_000;
/// How long lockout state outlives the last attempt (as in Redis: a day).
const LOCKOUT_MEMORY: i64 = 86_400;

/// One network's failures on one account.
#[derive(Debug, Clone, Default)]
struct NetState {
    fails: u32,
    level: u32,
    until: i64,
    forget_at: i64,
}

/// An account's lockout state: per network, the ceiling (GCRA), the known networks.
#[derive(Debug, Clone, Default)]
struct Account {
    nets: HashMap<String, NetState>,
    ceiling_tat: f64,
    known: HashMap<String, OffsetDateTime>,
}

pub struct MemoryLimits {
    /// GCRA theoretical arrival time (ms) per limiter key.
    rates: moka::sync::Cache<String, f64>,
    accounts: moka::sync::Cache<String, Account>,
}

impl Default for MemoryLimits {
    /// Empty limits. Every rule is decided against the `now` each call is given; the
    /// caches' own idle timer only bounds memory, well past any rule's window.
    fn default() -> Self {
        fn cache<V: Clone + Send + Sync + 'static>() -> moka::sync::Cache<String, V> {
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(Duration::from_secs(8 * 86_400))
                .build()
        }
        MemoryLimits {
            rates: cache(),
            accounts: cache(),
        }
    }
}

/// `gcra.lua`: the new arrival time if allowed, and the decision.
fn gcra(tat: Option<f64>, now: f64, limit: u32, period: f64) -> (Option<f64>, RateDecision) {
    let interval = period / f64::from(limit.max(1));
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + interval;
    let allow_at = new_tat - period;
    let ms = |v: f64| Duration::from_millis(v.ceil().max(0.0) as u64);
    if now < allow_at {
        let refused = RateDecision {
            allowed: false,
            remaining: 0,
            reset: ms(tat - now),
            retry_after: ms(allow_at - now),
        };
        return (None, refused);
    }
    let allowed = RateDecision {
        allowed: true,
        remaining: ((now - allow_at) / interval).floor() as u32,
        reset: ms(new_tat - now),
        retry_after: Duration::ZERO,
    };
    (Some(new_tat), allowed)
}

/// `lockout.lua` on one account: `Some(retry after, s)` when refused.
fn attempt(account: &mut Account, network: &str, policy: &LockoutPolicy, now: i64) -> Option<u64> {
    let net = account.nets.entry(network.to_owned()).or_default();
    if net.forget_at <= now && net.until <= now {
        *net = NetState::default();
    }
    if net.until > now {
        return Some((net.until - now) as u64);
    }
    let known = account
        .known
        .get(network)
        .is_some_and(|until| until.unix_timestamp() > now);
    if policy.ceiling > 0 && !known {
        let period = policy.ceiling_period.as_secs_f64().max(1.0);
        let interval = period / f64::from(policy.ceiling);
        let (now_f, tat) = (now as f64, account.ceiling_tat.max(now as f64));
        let new_tat = tat + interval;
        let allow_at = new_tat - period;
        if now_f < allow_at {
            return Some(((allow_at - now_f).ceil() as u64).max(1));
        }
        account.ceiling_tat = new_tat;
    }
    let net = account.nets.entry(network.to_owned()).or_default();
    net.fails += 1;
    net.forget_at = now + LOCKOUT_MEMORY;
    if net.fails > policy.threshold {
        net.level += 1;
        let doubling = 2u64.saturating_pow(net.level - 1);
        let duration = policy
            .base
            .as_secs()
            .saturating_mul(doubling)
            .min(policy.max.as_secs());
        net.until = now + duration as i64;
        net.fails = 0;
        net.forget_at = net.until + LOCKOUT_MEMORY;
        return Some(duration);
    }
    None
}

#[async_trait]
impl LimitStore for MemoryLimits {
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
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as f64;
        let period_ms = period.as_millis() as f64;
        let mut decision = None;
        self.rates.entry_by_ref(key).and_compute_with(|entry| {
            let (new_tat, d) = gcra(entry.map(|e| e.into_value()), now_ms, limit, period_ms);
            decision = Some(d);
            match new_tat {
                Some(tat) => Op::Put(tat),
                None => Op::Nop,
            }
        });
        Ok(decision.unwrap_or(RateDecision {
            allowed: false,
            remaining: 0,
            reset: period,
            retry_after: period,
        }))
    }

    async fn login_attempt(
        &self,
        account: &str,
        network: &str,
        policy: LockoutPolicy,
        now: OffsetDateTime,
    ) -> Result<Option<Duration>, StoreError> {
        let mut refused = None;
        self.accounts
            .entry_by_ref(account)
            .and_compute_with(|entry| {
                let mut state = entry.map(|e| e.into_value()).unwrap_or_default();
                refused = attempt(&mut state, network, &policy, now.unix_timestamp());
                Op::Put(state)
            });
        Ok(refused.map(Duration::from_secs))
    }

    async fn login_succeeded(
        &self,
        account: &str,
        network: &str,
        remember: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let until = now + remember.max(Duration::from_secs(1));
        self.accounts
            .entry_by_ref(account)
            .and_compute_with(|entry| {
                let mut state = entry.map(|e| e.into_value()).unwrap_or_default();
                state.nets.remove(network);
                state.known.insert(network.to_owned(), until);
                Op::Put(state)
            });
        Ok(())
    }

    async fn clear_lockout(&self, account: &str) -> Result<(), StoreError> {
        self.accounts
            .entry_by_ref(account)
            .and_compute_with(|entry| {
                let mut state = entry.map(|e| e.into_value()).unwrap_or_default();
                state.nets.clear();
                state.ceiling_tat = 0.0;
                Op::Put(state)
            });
        Ok(())
    }
}

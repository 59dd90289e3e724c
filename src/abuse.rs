//! Abuse protection (SPEC S9): rate limits shared by every instance, account lockout, and
//! the client IP they are keyed on.
//!
//! Subjects (IPs, emails, client ids) are hashed before they become Redis keys, so the
//! limiter never stores an email in clear.

use std::net::IpAddr;

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

use crate::config::{RateLimit, Settings};
use crate::domain::Email;
use crate::startup::AppState;
use crate::store::{AuditEvent, LockoutPolicy, StoreError};

/// What a limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    LoginPerIp,
    LoginPerAccount,
    RegisterPerIp,
    TokenPerClient,
    ForgotPerEmail,
    ForgotPerIp,
    ResetPerIp,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::LoginPerIp => "login-ip",
            Bucket::LoginPerAccount => "login-account",
            Bucket::RegisterPerIp => "register-ip",
            Bucket::TokenPerClient => "token-client",
            Bucket::ForgotPerEmail => "forgot-email",
            Bucket::ForgotPerIp => "forgot-ip",
            Bucket::ResetPerIp => "reset-ip",
        }
    }

    fn limit(self, settings: &Settings) -> Option<RateLimit> {
        let abuse = &settings.abuse;
        match self {
            Bucket::LoginPerIp => abuse.login_per_ip,
            Bucket::LoginPerAccount => abuse.login_per_account,
            Bucket::RegisterPerIp => abuse.register_per_ip,
            Bucket::TokenPerClient => abuse.token_per_client,
            Bucket::ForgotPerEmail => abuse.forgot_per_email,
            Bucket::ForgotPerIp => abuse.forgot_per_ip,
            Bucket::ResetPerIp => abuse.reset_per_ip,
        }
    }
}

/// A refused request: answered `429` with `Retry-After` and `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Requests allowed per period (`RateLimit-Limit`; 0 for an account lock).
    pub limit: u32,
    /// Seconds until a request may succeed (`Retry-After`).
    pub retry_after: u64,
    /// Seconds until the allowance is whole again (`RateLimit-Reset`).
    pub reset: u64,
}

impl Throttled {
    /// The headers of a `429`.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            ("retry-after", self.retry_after.to_string()),
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", "0".to_owned()),
            ("ratelimit-reset", self.reset.to_string()),
        ]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("too many requests")]
    Throttled(Throttled),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Counts one request of `subject` against `bucket`'s limit.
pub async fn check(state: &AppState, bucket: Bucket, subject: &str) -> Result<(), Refused> {
    let Some(limit) = bucket.limit(&state.settings) else {
        return Ok(());
    };
    let key = format!("{}:{}", bucket.name(), digest(&[subject]));
    let period_ms = limit.period.as_millis() as u64;
    let now_ms = (state.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
    let decision = state
        .stores
        .limits
        .hit(&key, limit.count, period_ms, now_ms)
        .await?;
    if decision.allowed {
        return Ok(());
    }
    crate::metrics::rate_limited(bucket.name());
    Err(Refused::Throttled(Throttled {
        limit: limit.count,
        retry_after: decision.retry_after_ms.div_ceil(1000).max(1),
        reset: decision.reset_ms.div_ceil(1000),
    }))
}

/// The lockout key of an account: derived from the normalized email, so unknown emails
/// lock exactly like real ones (a lock says nothing about whether an account exists).
pub fn account_key(email: &Email) -> String {
    digest(&["account", email.as_str()])
}

/// Counts a password attempt on `email`'s account before the password is checked, so
/// parallel guesses cannot pass the threshold; refuses while the account is locked.
pub async fn login_attempt(
    state: &AppState,
    email: &Email,
    ip: Option<&str>,
) -> Result<(), Refused> {
    let abuse = &state.settings.abuse;
    if abuse.lockout_threshold == 0 {
        return Ok(());
    }
    let policy = LockoutPolicy {
        threshold: abuse.lockout_threshold,
        base_secs: abuse.lockout_base.as_secs(),
        max_secs: abuse.lockout_max.as_secs(),
    };
    let now = state.clock.now().unix_timestamp();
    let Some(retry_after) = state
        .stores
        .limits
        .login_attempt(&account_key(email), policy, now)
        .await?
    else {
        return Ok(());
    };
    crate::metrics::login_failed("locked");
    tracing::info!(retry_after, "login refused: account locked");
    let user = state.stores.users.find_user_by_email(email).await?;
    let mut event = AuditEvent::new("account_locked", "denied")
        .ip(ip.map(str::to_owned))
        .detail(serde_json::json!({ "retry_after": retry_after }));
    if let Some(user) = user {
        event = event.user(user.id);
    }
    crate::audit::record(state, event).await;
    Err(Refused::Throttled(Throttled {
        limit: 0,
        retry_after,
        reset: retry_after,
    }))
}

/// A successful login or an unlock clears the account's failure count and lock.
pub async fn clear_lockout(state: &AppState, email: &Email) -> Result<(), StoreError> {
    state.stores.limits.clear_lockout(&account_key(email)).await
}

/// The client's address (SPEC S9): the socket peer, unless the peer is a trusted proxy;
/// then the right-most `X-Forwarded-For` entry that is not a trusted proxy. Headers from
/// untrusted peers are ignored, so they cannot be spoofed.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    let hops = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        // an unparsable hop ends the trusted chain: keep the last address a proxy vouched for
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

//! Abuse protection (book § Configuration): rate limits shared by every instance, account lockout, and
//! the client IP they are keyed on.
//!
//! Subjects (IPs, emails, client ids) are hashed before they become Redis keys, so the
//! limiter never stores an email in clear.

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::{AbuseSettings, RateLimit};
use crate::domain::{Email, Failure, OAuthError, Throttled};
use crate::service::audit::Auditor;
use crate::store::{
    AuditEvent, ClientStore, LimitStore, LockoutPolicy, StoreError, Stores, UserStore,
};

/// What a limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    LoginPerIp,
    RegisterPerIp,
    /// Failed client authentications per (client id, client address).
    ClientAuthFailures,
    ForgotPerEmail,
    ForgotPerIp,
    ResetPerIp,
    /// Verification links asked for again, and "someone tried to register" messages, per
    /// address.
    VerifyPerEmail,
    VerifyPerIp,
    /// RFC 7009 revocations that write a feed event, per client: nobody can grow the
    /// revocation feed without bound.
    RevocationsPerClient,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::LoginPerIp => "login-ip",
            Bucket::RegisterPerIp => "register-ip",
            Bucket::ClientAuthFailures => "client-auth-failures",
            Bucket::ForgotPerEmail => "forgot-email",
            Bucket::ForgotPerIp => "forgot-ip",
            Bucket::ResetPerIp => "reset-ip",
            Bucket::VerifyPerEmail => "verify-email",
            Bucket::VerifyPerIp => "verify-ip",
            Bucket::RevocationsPerClient => "revocations-client",
        }
    }

    fn limit(self, abuse: &AbuseSettings) -> Option<RateLimit> {
        match self {
            Bucket::LoginPerIp => abuse.login_per_ip,
            Bucket::RegisterPerIp => abuse.register_per_ip,
            Bucket::ClientAuthFailures => abuse.client_auth_failures,
            Bucket::ForgotPerEmail => abuse.forgot_per_email,
            Bucket::ForgotPerIp => abuse.forgot_per_ip,
            Bucket::ResetPerIp => abuse.reset_per_ip,
            Bucket::VerifyPerEmail => abuse.verify_per_email,
            Bucket::VerifyPerIp => abuse.verify_per_ip,
            Bucket::RevocationsPerClient => abuse.revocations_per_client,
        }
    }

    /// Per-address buckets count an IPv6 client per /64: one host has a whole /64 to
    /// pick addresses from.
    fn per_address(self) -> bool {
        matches!(
            self,
            Bucket::LoginPerIp
                | Bucket::RegisterPerIp
                | Bucket::ForgotPerIp
                | Bucket::ResetPerIp
                | Bucket::VerifyPerIp
        )
    }
}

/// The network an address belongs to, as the key it is counted under: IPv4 to
/// `v4_prefix` bits, IPv6 to /64. Anything that is not an address counts as itself.
pub fn network(address: &str, v4_prefix: u8) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => ipnet::Ipv4Net::new(v4, v4_prefix.min(32))
            .map(|n| n.trunc().to_string())
            .unwrap_or_else(|_| v4.to_string()),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => network(&v4.to_string(), v4_prefix),
            None => ipnet::Ipv6Net::new(v6, 64)
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
        },
        Err(_) => address.to_owned(),
    }
}

/// The network a lockout counts failures per (book § Configuration): IPv4 /24, IPv6 /64; as a digest,
/// like every other limiter subject, so no address is stored in clear.
fn lockout_network(ip: Option<&str>) -> String {
    let network = ip.map_or_else(|| "unknown".into(), |ip| network(ip, 24));
    digest(&["network", &network])
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

/// The shared counters with their settings: request limits per bucket and the password
/// lockout (book § Configuration).
#[derive(Clone)]
pub struct Limiter {
    limits: Arc<dyn LimitStore>,
    /// Names the account a lockout is audited under.
    users: Arc<dyn UserStore>,
    audit: Auditor,
    clock: Arc<dyn Clock>,
    settings: Arc<AbuseSettings>,
}

impl Limiter {
    pub fn new(
        stores: &Stores,
        audit: Auditor,
        clock: Arc<dyn Clock>,
        settings: AbuseSettings,
    ) -> Self {
        Limiter {
            limits: stores.limits.clone(),
            users: stores.users.clone(),
            audit,
            clock,
            settings: Arc::new(settings),
        }
    }

    /// Counts one request of `subject` against `bucket`'s limit.
    pub async fn check(&self, bucket: Bucket, subject: &str) -> Result<(), Refused> {
        let Some(limit) = bucket.limit(&self.settings) else {
            return Ok(());
        };
        let subject = if bucket.per_address() {
            network(subject, 32)
        } else {
            subject.to_owned()
        };
        let key = format!("{}:{}", bucket.name(), digest(&[&subject]));
        let decision = self.limits.hit(&key, limit, self.clock.now()).await?;
        if decision.allowed {
            return Ok(());
        }
        crate::metrics::rate_limited(bucket.name());
        Err(Refused::Throttled(Throttled {
            limit: limit.count,
            retry_after: whole_secs(decision.retry_after).max(1),
            reset: whole_secs(decision.reset),
        }))
    }

    /// Counts a password attempt on `email`'s account from `ip`'s network before the
    /// password is checked, so parallel guesses cannot pass the threshold; refuses while
    /// the account is locked for that network, or while the account's ceiling is reached
    /// and the network is not one the account signed in from recently (book § Configuration).
    pub async fn login_attempt(&self, email: &Email, ip: Option<&str>) -> Result<(), Refused> {
        let abuse = &self.settings;
        let ceiling = abuse.lockout_account_ceiling;
        if abuse.lockout_threshold == 0 && ceiling.is_none() {
            return Ok(());
        }
        let policy = LockoutPolicy {
            // a threshold of 0 turns the per-network lock off, not every attempt into a lock
            threshold: if abuse.lockout_threshold == 0 {
                u32::MAX
            } else {
                abuse.lockout_threshold
            },
            base: abuse.lockout_base,
            max: abuse.lockout_max,
            ceiling: ceiling.map_or(0, |c| c.count),
            ceiling_period: ceiling.map_or(std::time::Duration::from_secs(1), |c| c.period),
        };
        let now = self.clock.now();
        let Some(retry_after) = self
            .limits
            .login_attempt(&account_key(email), &lockout_network(ip), policy, now)
            .await?
        else {
            return Ok(());
        };
        let retry_after = whole_secs(retry_after);
        crate::metrics::login_failed("locked");
        tracing::info!(
            retry_after,
            "login refused: account locked for this network"
        );
        let user = self.users.find_user_by_email(email).await?;
        let mut event = AuditEvent::new("account_locked", "denied")
            .ip(ip.map(str::to_owned))
            .detail(serde_json::json!({ "retry_after": retry_after }));
        if let Some(user) = user {
            event = event.user(user.id);
        }
        self.audit.record(event).await;
        Err(Refused::Throttled(Throttled {
            limit: 0,
            retry_after,
            reset: retry_after,
        }))
    }

    /// A complete sign-in from `ip`: that network's failure count and lock are cleared and
    /// the network is remembered as the account's (exempt from the ceiling). Logged, not fatal.
    pub async fn login_succeeded(&self, email: &Email, ip: Option<&str>) {
        let remember = self.settings.known_network_ttl;
        if let Err(e) = self
            .limits
            .login_succeeded(
                &account_key(email),
                &lockout_network(ip),
                remember,
                self.clock.now(),
            )
            .await
        {
            tracing::warn!(error = %e, "could not clear the failed-login count");
        }
    }
}

/// A span in whole seconds, rounded up (`Retry-After` never promises too early).
fn whole_secs(span: std::time::Duration) -> u64 {
    u64::try_from(span.as_millis().div_ceil(1000)).unwrap_or(u64::MAX)
}

/// The lockout key of an account: derived from the normalized email, so unknown emails
/// lock exactly like real ones (a lock says nothing about whether an account exists).
pub fn account_key(email: &Email) -> String {
    digest(&["account", email.as_str()])
}

/// A password reset or an operator unlock clears every network's count and lock.
pub async fn clear_lockout(stores: &crate::store::Stores, email: &Email) -> Result<(), StoreError> {
    stores.limits.clear_lockout(&account_key(email)).await
}

/// The most (client id, address) pairs remembered as blocked; beyond it the least recently
/// used are forgotten (and counted in the limit store again at their next failure).
const BLOCKED_CLIENT_PAIRS: u64 = 100_000;

/// Authenticates clients at the token, revocation and introspection endpoints, limiting
/// *failed* authentications per (client id, client address) (book § Configuration): a correct secret is
/// never limited, so nobody can lock a client out by guessing at it, while guesses from one
/// address are cut off after the allowance. A pair over its allowance is remembered in
/// process memory (this gate's own cache), so further attempts from it, right or wrong, are
/// refused without a limit-store call; another instance learns it at the pair's next
/// failure there.
pub struct ClientGate {
    clients: Arc<dyn ClientStore>,
    limits: Arc<dyn LimitStore>,
    clock: Arc<dyn Clock>,
    /// `None`: failed authentications are not limited.
    limit: Option<RateLimit>,
    /// Pairs over their allowance, with the time (Unix ms) they may try again.
    blocked: moka::sync::Cache<String, i64>,
    /// Checks `private_key_jwt` assertions.
    assertions: crate::service::client_assertion::ClientAssertions,
}

impl ClientGate {
    pub fn new(
        stores: &Stores,
        clock: Arc<dyn Clock>,
        limit: Option<RateLimit>,
        assertions: crate::service::client_assertion::ClientAssertions,
    ) -> Self {
        // an entry is never needed past its limit's period (the longest retry-after)
        let ttl = limit.map_or(std::time::Duration::from_secs(60), |l| l.period);
        ClientGate {
            clients: stores.clients.clone(),
            limits: stores.limits.clone(),
            clock,
            limit,
            blocked: moka::sync::Cache::builder()
                .max_capacity(BLOCKED_CLIENT_PAIRS)
                .time_to_live(ttl)
                .build(),
            assertions,
        }
    }

    /// The client, if `presented` authenticates it and its pair is not blocked.
    pub async fn authenticate(
        &self,
        presented: &crate::auth::client_auth::Presented,
        ip: Option<&str>,
    ) -> Result<crate::domain::Client, OAuthError> {
        let Some(limit) = self.limit else {
            return self.verify(presented).await;
        };
        let pair = digest(&[presented.id.as_str(), &network(ip.unwrap_or_default(), 32)]);
        let now = self.clock.now();
        let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        if let Some(until_ms) = self.blocked.get(&pair) {
            if until_ms > now_ms {
                crate::metrics::rate_limited(Bucket::ClientAuthFailures.name());
                let retry_after = u64::try_from(until_ms - now_ms)
                    .unwrap_or(0)
                    .div_ceil(1000)
                    .max(1);
                return Err(OAuthError::TooManyRequests(Throttled {
                    limit: limit.count,
                    retry_after,
                    reset: retry_after,
                }));
            }
        }
        match self.verify(presented).await {
            Err(OAuthError::InvalidClient) => {
                let key = format!("{}:{pair}", Bucket::ClientAuthFailures.name());
                let decision = self.limits.hit(&key, limit, now).await?;
                if decision.allowed {
                    return Err(OAuthError::InvalidClient);
                }
                let retry_after_ms = u64::try_from(decision.retry_after.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1000);
                self.blocked.insert(pair, now_ms + retry_after_ms as i64);
                crate::metrics::rate_limited(Bucket::ClientAuthFailures.name());
                tracing::info!(client_id = %presented.id, "client authentication failures over the limit");
                Err(OAuthError::TooManyRequests(Throttled {
                    limit: limit.count,
                    retry_after: retry_after_ms.div_ceil(1000),
                    reset: whole_secs(decision.reset),
                }))
            }
            other => other,
        }
    }

    /// The client, if the presented credentials authenticate it (RFC 6749 §2.3).
    async fn verify(
        &self,
        presented: &crate::auth::client_auth::Presented,
    ) -> Result<crate::domain::Client, OAuthError> {
        let client = self.clients.find_client(&presented.id).await?;
        match (&presented.assertion, client) {
            (Some(assertion), Some(client))
                if client.auth_method() == crate::domain::AuthMethod::PrivateKeyJwt =>
            {
                self.assertions.verify(&client, assertion).await?;
                Ok(client)
            }
            (Some(_), _) => Err(OAuthError::InvalidClient),
            (None, client) => crate::auth::client_auth::verify(client, presented),
        }
    }
}

impl From<Refused> for Failure {
    fn from(e: Refused) -> Self {
        match e {
            Refused::Throttled(t) => Failure::Throttled(t),
            Refused::Store(e) => e.into(),
        }
    }
}

impl From<Refused> for OAuthError {
    fn from(e: Refused) -> Self {
        Failure::from(e).into()
    }
}

//! Password reset (book § Endpoints, book § Configuration): a request always answers the same way at the same speed
//! (the work happens after the answer), a token is 32 random bytes stored as SHA-256,
//! single use and short-lived, and a completed reset ends every session and access token.

use std::sync::Arc;

use secrecy::SecretString;

use crate::auth::hashing::{HashError, PasswordHasher};
use crate::clock::Clock;
use crate::domain::UserId;
use crate::domain::{Email, Password};
use crate::notify::ResetMessage;
use crate::service::audit::Auditor;
use crate::service::outbox::Outbox;
use crate::service::sessions::Sessions;
use crate::store::{AuditEvent, LimitStore, ResetStore, ResetUse, StoreError, Stores, UserStore};

const PREFIX: &str = "tsp_";

fn new_token() -> (SecretString, [u8; 32]) {
    crate::crypto::new_link_token(PREFIX)
}

fn digest_of(presented: &str) -> Option<[u8; 32]> {
    crate::crypto::link_digest(PREFIX, presented)
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Malformed, unknown, used, expired, or its user is gone: one answer for all.
    #[error("the reset token is invalid or expired")]
    InvalidToken,
    #[error("the new password is not acceptable")]
    Policy(Vec<crate::domain::FieldError>),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Password resets by emailed link: the user and reset stores, the lockout counters a
/// reset clears, the outbox that delivers links, the hashing pool, the sessions a reset
/// ends, the audit trail, the clock, a link's lifetime and the password policy's length.
#[derive(Clone)]
pub struct Resets {
    users: Arc<dyn UserStore>,
    resets: Arc<dyn ResetStore>,
    limits: Arc<dyn LimitStore>,
    outbox: Outbox,
    hasher: Arc<PasswordHasher>,
    sessions: Sessions,
    audit: Auditor,
    clock: Arc<dyn Clock>,
    reset_ttl: std::time::Duration,
    min_bytes: usize,
}

/// What password resets are built from, besides the stores.
pub struct ResetParts {
    pub outbox: Outbox,
    pub hasher: Arc<PasswordHasher>,
    pub sessions: Sessions,
    pub audit: Auditor,
    pub clock: Arc<dyn Clock>,
    pub reset_ttl: std::time::Duration,
    pub min_bytes: usize,
}

impl Resets {
    pub fn new(stores: &Stores, parts: ResetParts) -> Self {
        Resets {
            users: stores.users.clone(),
            resets: stores.resets.clone(),
            limits: stores.limits.clone(),
            outbox: parts.outbox,
            hasher: parts.hasher,
            sessions: parts.sessions,
            audit: parts.audit,
            clock: parts.clock,
            reset_ttl: parts.reset_ttl,
            min_bytes: parts.min_bytes,
        }
    }

    /// Issues and delivers a token if `email` names an account; does nothing otherwise. Run
    /// after the request was answered, so its timing tells nothing.
    pub async fn request(&self, email: Email, ip: Option<String>) {
        if let Err(e) = self.issue(&email, ip).await {
            tracing::warn!(error = %e, "password reset request failed");
        }
    }

    async fn issue(&self, email: &Email, ip: Option<String>) -> Result<(), StoreError> {
        let Some(user) = self.users.find_user_by_email(email).await? else {
            return Ok(());
        };
        let (token, digest) = new_token();
        let now = self.clock.now();
        let expires_at = now + self.reset_ttl;
        let message = ResetMessage {
            user_id: user.id,
            email: user.email.as_str().to_owned(),
            token,
            expires_at,
            sent_at: now,
        };
        // the link and its message are written together: a crash after the commit
        // delays the message, never loses it
        let queued = self.outbox.reset_message(&message, now)?;
        self.resets
            .create_reset(digest, user.id, expires_at, &queued, now)
            .await?;
        self.outbox.wake();
        let event = AuditEvent::new("password_reset_requested", "queued")
            .user(user.id)
            .ip(ip);
        self.audit.record(event).await;
        Ok(())
    }

    /// Sets a new password with a reset token; ends every session, invalidates every access
    /// token issued before now and clears any lockout. The token is used only once the new
    /// password is known to be acceptable, so a policy mistake does not burn it.
    pub async fn complete(
        &self,
        presented: &str,
        new_password: Password,
        ip: Option<String>,
    ) -> Result<UserId, ResetError> {
        let digest = digest_of(presented).ok_or(ResetError::InvalidToken)?;
        let now = self.clock.now();
        let user_id = self
            .resets
            .use_reset(digest, ResetUse::Find, now)
            .await?
            .ok_or(ResetError::InvalidToken)?;
        let user = self
            .users
            .find_user(user_id)
            .await?
            .ok_or(ResetError::InvalidToken)?;
        let problems = crate::auth::policy::check(
            &new_password,
            &user.email,
            user.name.as_deref(),
            self.min_bytes,
        );
        if !problems.is_empty() {
            return Err(ResetError::Policy(problems));
        }
        let hash = self.hasher.hash(new_password).await?;
        // the single use: of two concurrent resets with one token, one gets here
        if self
            .resets
            .use_reset(digest, ResetUse::Consume, now)
            .await?
            != Some(user.id)
        {
            return Err(ResetError::InvalidToken);
        }
        let notice = self
            .outbox
            .notice(&user, crate::notify::NoticeKind::PasswordReset, now)?;
        if !self
            .users
            .set_password_hash(user.id, &hash, now, Some(&notice))
            .await?
        {
            return Err(ResetError::InvalidToken);
        }
        self.outbox.wake();
        // every other reset link of this user dies with this one; pending MFA logins die
        // with the old password hash they are bound to
        self.resets.revoke_user_resets(user.id, now).await?;
        let ended = self.sessions.end_user(user.id, None, now).await?;
        if let Err(e) = self
            .limits
            .clear_lockout(&crate::service::abuse::account_key(&user.email))
            .await
        {
            tracing::warn!(user_id = %user.id, error = %e, "could not clear the lockout after a reset");
        }
        tracing::info!(user_id = %user.id, sessions_ended = ended, "password reset");
        let event = AuditEvent::new("password_reset_completed", "ok")
            .user(user.id)
            .ip(ip)
            .detail(serde_json::json!({ "sessions_revoked": ended }));
        self.audit.record(event).await;
        Ok(user.id)
    }
}

impl From<ResetError> for crate::domain::Failure {
    fn from(e: ResetError) -> Self {
        use crate::domain::Failure;
        match e {
            ResetError::InvalidToken => Failure::invalid(
                "invalid_token",
                "the reset token is invalid, used or expired",
            ),
            ResetError::Policy(fields) => Failure::Invalid {
                code: "invalid_request",
                description: "the new password is not acceptable".into(),
                fields,
            },
            ResetError::Hash(e) => e.into(),
            ResetError::Store(e) => e.into(),
        }
    }
}

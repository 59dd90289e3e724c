//! Users' email addresses (book § Email): verification and changing the address, by links
//! sent to the address itself.
//!
//! A link is `<issuer>/email/verify?token=…` or `<issuer>/email/confirm?token=…`: 32 random
//! bytes, stored as SHA-256, single use, 24 hours. Each is written with the outbox message
//! that delivers it, in one transaction. With verification on, registration answers the
//! same for every address; the owner of a taken one is told instead, at most
//! `rate_limit_verify_email` times an hour. Resending answers the same for every address
//! too, and does its work after the answer. A change of address happens only when the
//! link sent to the new address is followed; the old address is then told, and every link
//! sent to it (resets included) stops working.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::clock::Clock;
use crate::config::EmailVerification;
use crate::domain::{Email, FieldError, Password, User, UserId};
use crate::notify::{LinkKind, LinkMessage, NoticeKind};
use crate::service::abuse::{Bucket, Limiter, Refused};
use crate::service::access::TokenUser;
use crate::service::audit::Auditor;
use crate::service::outbox::Outbox;
use crate::service::passwords::{Passwords, StepUpError};
use crate::store::{
    AuditEvent, EmailLinkStore, LinkPurpose, LinkUse, NewEmailLink, StoreError, Stores, UserStore,
    Welcome,
};

const PREFIX: &str = "tse_";
/// How long a verification or change link works.
pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// What following a link came to, for the page that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// The address is verified.
    Verified,
    /// The account moved to the new address.
    Changed,
    /// Malformed, unknown, used, expired, or sent to an address the account no longer has.
    Invalid,
    /// The new address belongs to another account now; nothing changed.
    Taken,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailChangeError {
    #[error("the address is invalid")]
    Invalid(Vec<FieldError>),
    #[error("the account already has this address")]
    Unchanged,
    #[error(transparent)]
    StepUp(#[from] StepUpError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Users' addresses: the users and links, the outbox, the limiter (resends), the password
/// step-up (changes), the audit trail, the clock, the issuer the links point at and the
/// verification mode.
#[derive(Clone)]
pub struct EmailAddresses {
    users: Arc<dyn UserStore>,
    links: Arc<dyn EmailLinkStore>,
    outbox: Outbox,
    limiter: Limiter,
    passwords: Passwords,
    audit: Auditor,
    clock: Arc<dyn Clock>,
    issuer: String,
    mode: EmailVerification,
}

/// What the addresses service is built from, besides the stores.
pub struct EmailParts {
    pub outbox: Outbox,
    pub limiter: Limiter,
    pub passwords: Passwords,
    pub audit: Auditor,
    pub clock: Arc<dyn Clock>,
    pub issuer: String,
    pub mode: EmailVerification,
}

impl EmailAddresses {
    pub fn new(stores: &Stores, parts: EmailParts) -> Self {
        EmailAddresses {
            users: stores.users.clone(),
            links: stores.email_links.clone(),
            outbox: parts.outbox,
            limiter: parts.limiter,
            passwords: parts.passwords,
            audit: parts.audit,
            clock: parts.clock,
            issuer: parts.issuer.trim_end_matches('/').to_owned(),
            mode: parts.mode,
        }
    }

    pub fn mode(&self) -> EmailVerification {
        self.mode
    }

    /// A new link for `user` at `email` and the outbox row that delivers it.
    fn link(
        &self,
        user: UserId,
        email: &Email,
        purpose: LinkPurpose,
    ) -> Result<Welcome, StoreError> {
        let (token, digest) = crate::crypto::new_link_token(PREFIX);
        let now = self.clock.now();
        let (path, kind) = match purpose {
            LinkPurpose::Verify => ("verify", LinkKind::Verify),
            LinkPurpose::Change => ("confirm", LinkKind::Confirm),
        };
        let url = format!(
            "{}/email/{path}?token={}",
            self.issuer,
            token.expose_secret()
        );
        let expires_at = now + LINK_TTL;
        let message = LinkMessage {
            user_id: user,
            email: email.as_str().to_owned(),
            kind,
            link: SecretString::from(url),
            expires_at,
            sent_at: now,
        };
        Ok(Welcome {
            message: self.outbox.email_link(&message, now)?,
            link: NewEmailLink {
                token_sha256: digest,
                user,
                purpose,
                email: email.clone(),
                expires_at,
            },
        })
    }

    /// The verification link a new account is created with, when verification is on.
    pub fn welcome(&self, user: UserId, email: &Email) -> Result<Option<Welcome>, StoreError> {
        if !self.mode.is_on() {
            return Ok(None);
        }
        self.link(user, email, LinkPurpose::Verify).map(Some)
    }

    /// Someone registered with `email`, which has an account: the attempt is audited now
    /// (one write, as a new account's own audit event is), and the owner told after the
    /// answer (at most the per-address allowance), so the answer's timing tells nothing.
    pub async fn registration_attempt(&self, email: Email, ip: Option<String>) {
        let event = AuditEvent::new("registration_attempted", "taken").ip(ip.clone());
        self.audit.record(event).await;
        let addresses = self.clone();
        tokio::spawn(async move {
            if let Err(e) = addresses.tell_owner(&email).await {
                tracing::warn!(error = %e, "could not queue the registration-attempt notice");
            }
        });
    }

    /// Tells the owner of `email` that someone tried to use it, within the per-address
    /// allowance.
    async fn tell_owner(&self, email: &Email) -> Result<(), StoreError> {
        if self
            .limiter
            .check(Bucket::VerifyPerEmail, email.as_str())
            .await
            .is_err()
        {
            return Ok(());
        }
        let Some(user) = self.users.find_user_by_email(email).await? else {
            return Ok(());
        };
        let now = self.clock.now();
        let notice = self
            .outbox
            .notice(&user, NoticeKind::RegistrationAttempt, now)?;
        self.outbox.send(&notice).await
    }

    /// Asks for a new verification link for `email`: the caller's and the address's
    /// allowances counted now, the link sent after the answer if the address has an
    /// unverified account (the answer is the same either way).
    pub async fn resend(&self, email: Email, ip: Option<String>) -> Result<(), Refused> {
        let from = ip.as_deref().unwrap_or_default();
        self.limiter.check(Bucket::VerifyPerIp, from).await?;
        self.limiter
            .check(Bucket::VerifyPerEmail, email.as_str())
            .await?;
        let addresses = self.clone();
        tokio::spawn(async move {
            if let Err(e) = addresses.send_again(&email, ip).await {
                tracing::warn!(error = %e, "could not queue a verification link");
            }
        });
        Ok(())
    }

    async fn send_again(&self, email: &Email, ip: Option<String>) -> Result<(), StoreError> {
        let Some(user) = self.users.find_user_by_email(email).await? else {
            return Ok(());
        };
        if user.email_verified || !self.mode.is_on() {
            return Ok(());
        }
        let Welcome { link, message } = self.link(user.id, &user.email, LinkPurpose::Verify)?;
        self.links
            .create_email_link(&link, &message, self.clock.now())
            .await?;
        self.outbox.wake();
        let event = AuditEvent::new("email_verification_sent", "queued")
            .user(user.id)
            .ip(ip);
        self.audit.record(event).await;
        Ok(())
    }

    /// Asks to move the signed-in user's account to `new_email` (after the step-up): a
    /// link goes to the new address, and nothing changes until it is followed. A new
    /// address that has an account gets the "someone tried to register" notice instead,
    /// so the answer is the same either way.
    pub async fn request_change(
        &self,
        session: &TokenUser,
        new_email: &str,
        password: Option<Password>,
        ip: Option<String>,
    ) -> Result<(), EmailChangeError> {
        let email = Email::parse(new_email).map_err(|e| {
            EmailChangeError::Invalid(vec![FieldError {
                field: "email".into(),
                message: e.into(),
            }])
        })?;
        self.passwords
            .step_up(session, password, ip.as_deref())
            .await?;
        let user = &session.user;
        if email == user.email {
            return Err(EmailChangeError::Unchanged);
        }
        let taken = self.users.find_user_by_email(&email).await?;
        let outcome = if taken.is_some() {
            self.tell_owner(&email).await?;
            "taken"
        } else {
            let Welcome { link, message } = self.link(user.id, &email, LinkPurpose::Change)?;
            self.links
                .create_email_link(&link, &message, self.clock.now())
                .await?;
            self.outbox.wake();
            "queued"
        };
        // the audit trail keeps which way it went; the answer does not tell
        let event = AuditEvent::new("email_change_requested", outcome)
            .user(user.id)
            .ip(ip);
        self.audit.record(event).await;
        Ok(())
    }

    /// Follows a link from a message: `purpose` is the path's (`/email/verify` verifies,
    /// `/email/confirm` moves the account), and a link of the other kind is invalid there.
    pub async fn follow(
        &self,
        presented: &str,
        purpose: LinkPurpose,
        ip: Option<String>,
    ) -> Result<Followed, StoreError> {
        let Some(digest) = crate::crypto::link_digest(PREFIX, presented) else {
            return Ok(Followed::Invalid);
        };
        let now = self.clock.now();
        let Some(link) = self
            .links
            .find_email_link(digest, now)
            .await?
            .filter(|l| l.purpose == purpose)
        else {
            return Ok(Followed::Invalid);
        };
        let Some(user) = self.users.find_user(link.user).await? else {
            return Ok(Followed::Invalid);
        };
        let notice = match purpose {
            LinkPurpose::Change => {
                Some(self.outbox.notice(&user, NoticeKind::EmailChanged, now)?)
            }
            LinkPurpose::Verify => None,
        };
        let used = self
            .links
            .use_email_link(digest, &user.email, notice.as_ref(), now)
            .await?;
        let (followed, action) = match (used, purpose) {
            (LinkUse::Applied, LinkPurpose::Verify) => (Followed::Verified, "email_verified"),
            (LinkUse::Applied, LinkPurpose::Change) => (Followed::Changed, "email_changed"),
            (LinkUse::Taken, _) => (Followed::Taken, "email_change_failed"),
            (LinkUse::Invalid, _) => return Ok(Followed::Invalid),
        };
        if followed == Followed::Changed {
            self.outbox.wake();
            tracing::info!(user_id = %user.id, "email address changed");
        }
        let event = AuditEvent::new(
            action,
            if followed == Followed::Taken {
                "taken"
            } else {
                "ok"
            },
        )
        .user(user.id)
        .ip(ip);
        self.audit.record(event).await;
        Ok(followed)
    }

    /// Marks `user`'s address verified or not (an operator's word, audited by the caller);
    /// false if there is no such user.
    pub async fn set_verified(&self, user: UserId, verified: bool) -> Result<bool, StoreError> {
        self.links
            .set_email_verified(user, verified, self.clock.now())
            .await
    }

    /// Whether sign-in must wait for `user` to verify their address.
    pub fn must_verify(&self, user: &User) -> bool {
        self.mode == EmailVerification::Required && !user.email_verified
    }
}

impl From<EmailChangeError> for crate::domain::Failure {
    fn from(e: EmailChangeError) -> Self {
        use crate::domain::Failure;
        match e {
            EmailChangeError::Invalid(fields) => Failure::Invalid {
                code: "invalid_request",
                description: "the new address is invalid".into(),
                fields,
            },
            EmailChangeError::Unchanged => {
                Failure::invalid("invalid_request", "the account already has this address")
            }
            EmailChangeError::StepUp(e) => e.into(),
            EmailChangeError::Store(e) => e.into(),
        }
    }
}

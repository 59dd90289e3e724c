//! Checking and changing passwords (book § Endpoints, book § Configuration), written once: sign-in credentials
//! (unknown users and wrong passwords cost the same and look the same), the current password
//! of a signed-in user (counted toward the lockout like a login), and the password change.
//! Hashes are upgraded (bcrypt, old argon2 parameters) after a successful sign-in.

use std::sync::Arc;

use crate::notify::NoticeKind;
use crate::service::outbox::Outbox;

use crate::auth::hashing::{HashError, PasswordHasher, Verified};
use crate::clock::Clock;
use crate::domain::password::MAX_PASSWORD_BYTES;
use crate::domain::{Email, FieldError, OAuthError, Password, User};
use crate::service::sessions::Sessions;
use crate::store::{ResetStore, StoreError, Stores, UserStore};

use super::abuse::{Limiter, Refused};
use crate::domain::FamilyId;
use crate::domain::UserId;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("invalid email or password")]
    WrongPassword(UserId),
    /// No such user: answered exactly like a wrong password, told apart only in the
    /// audit trail and metrics.
    #[error("invalid email or password")]
    UnknownUser,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoginError> for OAuthError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials
            | LoginError::WrongPassword(_)
            | LoginError::UnknownUser => OAuthError::InvalidGrant("invalid email or password"),
            LoginError::Hash(e) => e.into(),
            LoginError::Store(e) => e.into(),
        }
    }
}

/// Checks passwords: the users, the hashing pool, the lockout counters and the clock
/// (for the time of an upgraded hash), nothing else.
#[derive(Clone)]
pub struct Passwords {
    users: Arc<dyn UserStore>,
    hasher: Arc<PasswordHasher>,
    limiter: Limiter,
    clock: Arc<dyn Clock>,
    /// A changed password voids the user's reset links and ends their other sessions.
    resets: Arc<dyn ResetStore>,
    sessions: Sessions,
    /// Tells the user their password changed.
    outbox: Outbox,
    /// The policy's shortest password, in bytes.
    min_bytes: usize,
}

impl Passwords {
    pub fn new(
        stores: &Stores,
        hasher: Arc<PasswordHasher>,
        limiter: Limiter,
        sessions: Sessions,
        outbox: Outbox,
        clock: Arc<dyn Clock>,
        min_bytes: usize,
    ) -> Self {
        Passwords {
            users: stores.users.clone(),
            resets: stores.resets.clone(),
            hasher,
            limiter,
            sessions,
            outbox,
            clock,
            min_bytes,
        }
    }

    /// Whether the hashing pool is full: a sign-in would wait, so it is refused now.
    pub fn busy(&self) -> bool {
        self.hasher.is_saturated()
    }

    /// The user whose email and password these are.
    pub async fn verify_credentials(
        &self,
        email: &Email,
        password: Password,
    ) -> Result<User, LoginError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(LoginError::InvalidCredentials);
        }
        if self.busy() {
            return Err(LoginError::Hash(HashError::Busy));
        }
        let user = self.users.find_user_by_email(email).await?;
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self.hasher.verify(password, stored).await?;
        match (user, verified) {
            (Some(mut user), Verified::Yes { rehash }) => {
                if let Some(new_hash) = rehash {
                    let now = self.clock.now();
                    if let Err(e) = self
                        .users
                        .replace_password_hash(user.id, &user.password_hash, &new_hash, now, None)
                        .await
                    {
                        tracing::warn!(user_id = %user.id, error = %e, "could not upgrade the password hash; will retry at next login");
                    } else {
                        tracing::info!(user_id = %user.id, "password hash upgraded");
                        user.password_hash = new_hash;
                    }
                }
                Ok(user)
            }
            (None, _) => Err(LoginError::UnknownUser),
            (Some(user), _) => Err(LoginError::WrongPassword(user.id)),
        }
    }

    /// Whether `password` is the user's current password, checked on the hashing pool; one
    /// longer than any password can be is wrong without being hashed.
    pub async fn matches(&self, user: &User, password: Password) -> Result<bool, HashError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let verified = self
            .hasher
            .verify(password, Some(user.password_hash.clone()))
            .await?;
        Ok(matches!(verified, Verified::Yes { .. }))
    }

    /// Counts an attempt on the user's account from `ip` toward the lockout (book §
    /// Configuration), before anything is checked, so parallel guesses cannot pass the
    /// threshold.
    pub async fn count_attempt(&self, user: &User, ip: Option<&str>) -> Result<(), Refused> {
        self.limiter.login_attempt(&user.email, ip).await
    }

    /// A completed check clears this network's failure count, as a complete sign-in does.
    pub async fn attempt_succeeded(&self, user: &User, ip: Option<&str>) {
        self.limiter.login_succeeded(&user.email, ip).await;
    }

    /// The step-up before a change to the account's security (book § Endpoints): a sign-in
    /// within the last five minutes (`auth_time`), or the current password now, counted
    /// toward the lockout.
    pub async fn step_up(
        &self,
        session: &crate::service::access::TokenUser,
        password: Option<Password>,
        ip: Option<&str>,
    ) -> Result<(), StepUpError> {
        let now = self.clock.now().unix_timestamp();
        let recent = session
            .claims
            .auth_time
            .is_some_and(|t| now - t <= RECENT_AUTH_SECS);
        match password {
            None if recent => Ok(()),
            None => Err(StepUpError::Reauthenticate),
            Some(password) => Ok(self.confirm(&session.user, password, ip).await?),
        }
    }

    /// The signed-in user's current password, counted toward the lockout.
    pub async fn confirm(
        &self,
        user: &User,
        password: Password,
        ip: Option<&str>,
    ) -> Result<(), ConfirmError> {
        self.count_attempt(user, ip).await?;
        if self.matches(user, password).await? {
            Ok(())
        } else {
            Err(ConfirmError::WrongPassword)
        }
    }
}

/// How long a sign-in counts as recent for a step-up.
const RECENT_AUTH_SECS: i64 = 300;

/// Why a step-up was refused.
#[derive(Debug, thiserror::Error)]
pub enum StepUpError {
    /// The sign-in is older than five minutes and no password came with the request.
    #[error("sign in again, or send your current password")]
    Reauthenticate,
    #[error(transparent)]
    Confirm(#[from] ConfirmError),
}

/// Why a signed-in user's password (or code) was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("the password is wrong")]
    WrongPassword,
    /// Locked out (or a backend failed while counting).
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl From<StepUpError> for crate::domain::Failure {
    fn from(e: StepUpError) -> Self {
        use crate::domain::Failure;
        match e {
            StepUpError::Reauthenticate => Failure::Forbidden(
                "reauthentication_required",
                "sign in again, or send your current password as `password`",
            ),
            StepUpError::Confirm(ConfirmError::WrongPassword) => Failure::Unauthorized,
            StepUpError::Confirm(ConfirmError::Refused(e)) => e.into(),
            StepUpError::Confirm(ConfirmError::Hash(e)) => e.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("the new password is not acceptable")]
    Policy(Vec<FieldError>),
    #[error("the password was changed concurrently")]
    Concurrent,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Passwords {
    /// Changes a user's password (book § Endpoints): needs the current one; ends every other session
    /// and invalidates every access token issued before now (the per-user cutoff).
    pub async fn change_password(
        &self,
        user: &User,
        current: Password,
        new: Password,
        keep_session: Option<&FamilyId>,
    ) -> Result<(), ChangeError> {
        if !self.matches(user, current).await? {
            return Err(ChangeError::WrongPassword);
        }
        let problems =
            crate::auth::policy::check(&new, &user.email, user.name.as_deref(), self.min_bytes);
        if !problems.is_empty() {
            return Err(ChangeError::Policy(problems));
        }
        let new_hash = self.hasher.hash(new).await?;
        let now = self.clock.now();
        let notice = self.outbox.notice(user, NoticeKind::PasswordChanged, now)?;
        if !self
            .users
            .replace_password_hash(user.id, &user.password_hash, &new_hash, now, Some(&notice))
            .await?
        {
            return Err(ChangeError::Concurrent);
        }
        self.outbox.wake();
        // outstanding reset links stop working; pending MFA logins are bound to the old hash
        self.resets.revoke_user_resets(user.id, now).await?;
        let ended = self.sessions.end_user(user.id, keep_session, now).await?;
        tracing::info!(user_id = %user.id, other_sessions_ended = ended, "password changed");
        Ok(())
    }
}

impl From<ChangeError> for crate::domain::Failure {
    fn from(e: ChangeError) -> Self {
        use crate::domain::Failure;
        match e {
            ChangeError::WrongPassword => Failure::Unauthorized,
            ChangeError::Policy(fields) => Failure::Invalid {
                code: "invalid_request",
                description: "the new password is not acceptable".into(),
                fields,
            },
            ChangeError::Concurrent => {
                Failure::Conflict("conflict", "the password was changed concurrently; retry")
            }
            ChangeError::Hash(e) => e.into(),
            ChangeError::Store(e) => e.into(),
        }
    }
}

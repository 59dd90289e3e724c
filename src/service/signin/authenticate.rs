//! Who is signing in: the one authentication use-case behind the password grant (RFC 6749
//! §4.3), the SPA's `POST /api/v1/session/login` and the hosted sign-in page, and its
//! second step, a TOTP (RFC 6238) or recovery code, behind the mfa-otp grant,
//! `POST /api/v1/session/mfa` and the hosted second-factor page; and a passkey (WebAuthn,
//! book § Passkeys) behind `POST /api/v1/session/passkey`.
//!
//! A correct password answers a value, never an error: `Authenticated::User` or, for a
//! user with a second factor, `Authenticated::NeedsSecondFactor` with the single-use token
//! the second step takes. Each caller turns that into its own answer (tokens, the SPA's
//! `mfa_required` body, the second-factor page).

use std::sync::Arc;

use serde_json::json;

use crate::domain::{Client, Email, OAuthError, Password, Scope, User};
use crate::service::abuse::{Bucket, Limiter};
use crate::service::audit::Auditor;
use crate::service::mfa::{self, Mfa, MfaError, PendingLogin};
use crate::service::passkeys::{self, Ceremony, PasskeyError, Passkeys};
use crate::service::passwords::{LoginError, Passwords};
use crate::store::{AuditEvent, SessionMeta, UserStore};

/// The outcome of a correct password.
#[derive(Debug)]
pub enum Authenticated {
    /// Signed in with the password alone.
    User(User),
    /// The user has a second factor: the token its step takes (single use, minutes long).
    NeedsSecondFactor(String),
}

/// Why a second step did not sign the user in.
#[derive(Debug)]
pub enum SecondFactorError {
    /// The token is unknown, used, expired or another client's, or the password changed
    /// since the first step: the sign-in starts over.
    Expired,
    /// A wrong code (counted toward the account's lockout and audited); the token stays
    /// usable, so a typo does not restart the sign-in.
    WrongCode,
    /// Refused before the code was checked: a lock or rate limit, or a backend failed.
    Refused(OAuthError),
}

impl From<crate::store::StoreError> for SecondFactorError {
    fn from(e: crate::store::StoreError) -> Self {
        SecondFactorError::Refused(e.into())
    }
}

/// The sign-in context: the users, the rate limits and lockout, the password checker (its
/// hashing pool), the second factors and the audit trail. Every sign-in method checks
/// its credentials here.
#[derive(Clone)]
pub struct Authenticator {
    users: Arc<dyn UserStore>,
    limiter: Limiter,
    passwords: Passwords,
    mfa: Mfa,
    passkeys: Passkeys,
    audit: Auditor,
}

/// What an authenticator is built from, beside the users.
pub struct AuthenticatorParts {
    pub limiter: Limiter,
    pub passwords: Passwords,
    pub mfa: Mfa,
    pub passkeys: Passkeys,
    pub audit: Auditor,
}

impl Authenticator {
    pub fn new(users: Arc<dyn UserStore>, parts: AuthenticatorParts) -> Self {
        Authenticator {
            users,
            limiter: parts.limiter,
            passwords: parts.passwords,
            mfa: parts.mfa,
            passkeys: parts.passkeys,
            audit: parts.audit,
        }
    }

    /// The password step of every password sign-in: the address's rate limit, the account's
    /// lockout counted before the check, one generic failure for unknown users and wrong
    /// passwords. A user with TOTP gets a token for the second step, which keeps `client`,
    /// `scope` and `meta` for it.
    pub async fn password(
        &self,
        client: &Client,
        username: &str,
        password: Password,
        scope: &Scope,
        meta: &SessionMeta,
    ) -> Result<Authenticated, OAuthError> {
        let email = Email::parse(username)
            .map_err(|e| OAuthError::InvalidRequest(format!("username: {e}")))?;
        let ip = meta.ip.as_deref();
        self.limiter
            .check(Bucket::LoginPerIp, ip.unwrap_or_default())
            .await?;
        self.limiter.login_attempt(&email, ip).await?;
        let user = match self.passwords.verify_credentials(&email, password).await {
            Ok(user) => user,
            Err(e) => {
                self.login_failed(client, meta, &e).await;
                return Err(e.into());
            }
        };
        if self.mfa.is_enabled(&user).await? {
            let pending = PendingLogin {
                user_id: user.id,
                password: mfa::password_fingerprint(&user),
                client_id: client.id.to_string(),
                scope: scope.to_string(),
                ip: meta.ip.clone(),
                user_agent: meta.user_agent.clone(),
            };
            let token = self.mfa.issue_mfa_token(&pending).await?;
            // the failure count is cleared only by a complete sign-in: a known password must
            // not reset the allowance for guessing the second factor
            return Ok(Authenticated::NeedsSecondFactor(token));
        }
        self.limiter.login_succeeded(&email, ip).await;
        Ok(Authenticated::User(user))
    }

    /// Counts and audits a failed sign-in. The attempted email is not kept (an unknown one
    /// could be a user's password typed into the wrong field); a known account is named by id.
    async fn login_failed(&self, client: &Client, meta: &SessionMeta, error: &LoginError) {
        let (reason, user) = match error {
            LoginError::InvalidCredentials => ("invalid_credentials", None),
            LoginError::WrongPassword(user) => ("wrong_password", Some(*user)),
            LoginError::UnknownUser => ("unknown_user", None),
            LoginError::Hash(crate::auth::hashing::HashError::Busy) => ("overloaded", None),
            LoginError::Hash(_) | LoginError::Store(_) => ("unavailable", None),
        };
        crate::metrics::login_failed(reason);
        if matches!(error, LoginError::Hash(_) | LoginError::Store(_)) {
            return;
        }
        let mut event = AuditEvent::new("login_failed", "denied")
            .client(client.id.as_str())
            .ip(meta.ip.clone())
            .detail(json!({ "reason": reason }));
        if let Some(user) = user {
            event = event.user(user);
        }
        self.audit.record(event).await;
    }

    /// The second step of a password sign-in: the pending sign-in of `mfa_token` (which must
    /// be `client_id`'s when given), a valid TOTP or recovery code, and the token used up.
    pub async fn second_factor(
        &self,
        client_id: Option<&str>,
        mfa_token: &str,
        otp: Option<&str>,
        recovery_code: Option<&str>,
        ip: Option<String>,
    ) -> Result<(User, PendingLogin), SecondFactorError> {
        let pending = self
            .mfa
            .peek_mfa_token(mfa_token)
            .await?
            .ok_or(SecondFactorError::Expired)?;
        if client_id.is_some_and(|id| id != pending.client_id) {
            return Err(SecondFactorError::Expired);
        }
        // a password change or reset since the password step voids the pending sign-in
        let user = self
            .users
            .find_user(pending.user_id)
            .await?
            .filter(|u| mfa::password_fingerprint(u) == pending.password)
            .ok_or(SecondFactorError::Expired)?;
        self.limiter
            .login_attempt(&user.email, ip.as_deref())
            .await
            .map_err(|e| SecondFactorError::Refused(e.into()))?;
        match self.mfa.verify(&user, otp, recovery_code).await {
            Ok(()) => {}
            Err(MfaError::Store(e)) => return Err(e.into()),
            Err(_) => {
                crate::metrics::login_failed("wrong_otp");
                let event = AuditEvent::new("mfa_failed", "denied")
                    .user(user.id)
                    .client(pending.client_id.as_str())
                    .ip(ip);
                self.audit.record(event).await;
                return Err(SecondFactorError::WrongCode);
            }
        }
        if !self.mfa.take_mfa_token(mfa_token).await? {
            return Err(SecondFactorError::Expired);
        }
        self.limiter
            .login_succeeded(&user.email, ip.as_deref())
            .await;
        Ok((user, pending))
    }

    /// Whether passkeys are on (a WebAuthn relying party is configured).
    pub fn passkeys_enabled(&self) -> bool {
        self.passkeys.enabled()
    }

    /// Starts a passkey sign-in: discoverable, or for `email` with that user's passkeys
    /// listed (an unknown email gets a discoverable ceremony, as a user without passkeys
    /// does). Counted against the address's rate limit.
    pub async fn passkey_options(
        &self,
        email: Option<&str>,
        ip: Option<&str>,
    ) -> Result<Ceremony, crate::domain::Failure> {
        self.limiter
            .check(Bucket::LoginPerIp, ip.unwrap_or_default())
            .await?;
        let user = match email {
            Some(email) => {
                let email = Email::parse(email).map_err(|e| {
                    crate::domain::Failure::invalid("invalid_request", format!("email: {e}"))
                })?;
                self.users.find_user_by_email(&email).await?
            }
            None => None,
        };
        Ok(self.passkeys.authentication_options(user.as_ref()).await?)
    }

    /// A passkey sign-in: the address's rate limit; once the passkey names its owner, the
    /// owner's lockout, counted before the assertion is verified (a refused one counts, as
    /// a wrong password does); a failure audited. Answers the user and the `amr`.
    pub async fn passkey(
        &self,
        client: &Client,
        ceremony: &str,
        credential: &webauthn_rs_core::proto::PublicKeyCredential,
        meta: &SessionMeta,
    ) -> Result<(User, Vec<String>), crate::domain::Failure> {
        let ip = meta.ip.as_deref();
        self.limiter
            .check(Bucket::LoginPerIp, ip.unwrap_or_default())
            .await?;
        let passkey = self.passkeys.stored(credential.get_credential_id()).await?;
        let owner = match &passkey {
            Some(passkey) => self.users.find_user(passkey.user_id).await?,
            None => None,
        };
        if let Some(owner) = &owner {
            self.limiter.login_attempt(&owner.email, ip).await?;
        }
        let verified = self
            .passkeys
            .authenticate(ceremony, credential, passkey, ip);
        let asserted = match verified.await {
            Ok(asserted) => asserted,
            Err(e) => {
                if !matches!(e, PasskeyError::Store(_) | PasskeyError::Off) {
                    self.passkey_failed(client, meta, &e, owner.as_ref()).await;
                }
                return Err(e.into());
            }
        };
        let user = owner
            .filter(|u| u.id == asserted.user_id)
            .ok_or(crate::domain::Failure::Unauthorized)?;
        self.limiter.login_succeeded(&user.email, ip).await;
        Ok((user, passkeys::amr(asserted.user_verified)))
    }

    /// Counts and audits a refused passkey sign-in, against the passkey's owner when known.
    async fn passkey_failed(
        &self,
        client: &Client,
        meta: &SessionMeta,
        error: &PasskeyError,
        owner: Option<&User>,
    ) {
        let reason = match error {
            PasskeyError::Expired => "passkey_ceremony_expired",
            PasskeyError::Unknown => "passkey_unknown",
            PasskeyError::CounterRegressed => "passkey_counter_regressed",
            _ => "passkey_invalid",
        };
        crate::metrics::login_failed(reason);
        let mut event = AuditEvent::new("login_failed", "denied")
            .client(client.id.as_str())
            .ip(meta.ip.clone())
            .detail(json!({ "reason": reason }));
        if let Some(owner) = owner {
            event = event.user(owner.id);
        }
        self.audit.record(event).await;
    }
}

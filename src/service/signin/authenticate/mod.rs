//! Who is signing in: the one authentication use-case behind the password grant (RFC 6749
//! §4.3), the SPA's `POST /api/v1/session/login` and the hosted sign-in page, and its
//! second step, a TOTP (RFC 6238) or recovery code or a passkey (WebAuthn, book §
//! Passkeys), behind the mfa-otp grant, `POST /api/v1/session/mfa` and the hosted
//! second-factor page; and a passkey alone behind `POST /api/v1/session/passkey`.
//!
//! A correct password answers a value, never an error: `Authenticated::User` or, for a
//! user with a second factor, `Authenticated::NeedsSecondFactor` with the single-use token
//! the second step takes. Each caller turns that into its own answer (tokens, the SPA's
//! `mfa_required` body, the second-factor page). A second factor is TOTP; a user who has
//! it and a passkey may answer with either (a passkey alone does not make the password
//! insufficient: it is a way to sign in by itself).
mod passkey;

use std::sync::Arc;

use serde_json::json;

use webauthn_rs_core::proto::PublicKeyCredential;

use crate::domain::{Client, Email, OAuthError, Password, Scope, User};
use crate::service::abuse::{Bucket, Limiter};
use crate::service::audit::Auditor;
use crate::service::email::EmailAddresses;
use crate::service::mfa::{self, Mfa, MfaError, PendingLogin};
use crate::service::passkeys::{PasskeyError, Passkeys};
use crate::service::passwords::{LoginError, Passwords};
use crate::store::{AuditEvent, SessionMeta, StoreError, UserStore};

/// The outcome of a correct password.
#[derive(Debug)]
pub enum Authenticated {
    /// Signed in with the password alone.
    User(User),
    /// The user has a second factor: what its step takes.
    NeedsSecondFactor(SecondStep),
}

/// A pending second step: its token (single use, minutes long), and whether the user may
/// answer it with a passkey as well as with a code. `Debug` leaves the token out.
pub struct SecondStep {
    pub mfa_token: String,
    pub passkey: bool,
}

redacted_debug!(SecondStep, passkey);

/// What a second step brings.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// A TOTP code, or one of the recovery codes.
    Code {
        otp: Option<&'a str>,
        recovery_code: Option<&'a str>,
    },
    /// An assertion for a ceremony `Authenticator::second_factor_options` started for this
    /// very step.
    Passkey {
        ceremony: &'a str,
        credential: &'a PublicKeyCredential,
    },
}

/// A completed second step: the user, what the first step kept, and the `amr` (RFC 8176)
/// of the whole sign-in.
#[derive(Debug)]
pub struct TwoFactors {
    pub user: User,
    pub pending: PendingLogin,
    pub amr: Vec<String>,
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
    /// A passkey answer that was refused (unknown, invalid, its ceremony expired or not
    /// this step's), counted and audited like a wrong code; the token stays usable.
    WrongPasskey,
    /// Refused before the proof was checked: a lock or rate limit, or a backend failed.
    Refused(OAuthError),
}

impl From<StoreError> for SecondFactorError {
    fn from(e: StoreError) -> Self {
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
    email: EmailAddresses,
    audit: Auditor,
}

/// What an authenticator is built from, beside the users.
pub struct AuthenticatorParts {
    pub limiter: Limiter,
    pub passwords: Passwords,
    pub mfa: Mfa,
    pub passkeys: Passkeys,
    /// Whether a sign-in waits for a verified address.
    pub email: EmailAddresses,
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
            email: parts.email,
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
        self.verified_address(&user, client.id.as_str(), meta.ip.clone())
            .await?;
        if self.mfa.is_enabled(&user).await? {
            // the failure count is cleared only by a complete sign-in: a known password must
            // not reset the allowance for guessing the second factor
            return self.second_step(client, &user, scope, meta, None).await;
        }
        self.limiter.login_succeeded(&email, ip).await;
        Ok(Authenticated::User(user))
    }

    /// After an upstream provider vouched for `user` with `amr` (tessera's stored form,
    /// [`crate::domain::methods::federated`]): the address check as for a password, then
    /// tessera's own second factor when the user has one, unless `second_factor_shown`
    /// (the provider is trusted for MFA and its `amr` shows one).
    pub async fn upstream(
        &self,
        client: &Client,
        user: User,
        amr: Vec<String>,
        second_factor_shown: bool,
        scope: &Scope,
        meta: &SessionMeta,
    ) -> Result<Authenticated, OAuthError> {
        self.verified_address(&user, client.id.as_str(), meta.ip.clone())
            .await?;
        if second_factor_shown || !self.mfa.is_enabled(&user).await? {
            return Ok(Authenticated::User(user));
        }
        self.second_step(client, &user, scope, meta, Some(amr))
            .await
    }

    /// A pending second step for `user` (who passed the first, `first`'s methods or the
    /// password), keeping `client`, `scope` and `meta` for it.
    async fn second_step(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        meta: &SessionMeta,
        first: Option<Vec<String>>,
    ) -> Result<Authenticated, OAuthError> {
        let pending = PendingLogin {
            user_id: user.id,
            password: mfa::password_fingerprint(user),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            first,
        };
        let mfa_token = self.mfa.issue_mfa_token(&pending).await?;
        let passkey = self.passkeys.any(user.id).await?;
        Ok(Authenticated::NeedsSecondFactor(SecondStep {
            mfa_token,
            passkey,
        }))
    }

    /// The client address's sign-in allowance (`TESSERA_RATE_LIMIT_LOGIN_IP`), counted
    /// by a sign-in that does not reach `password` (one through an upstream provider).
    pub async fn address_allowance(&self, ip: Option<&str>) -> Result<(), OAuthError> {
        self.limiter
            .check(Bucket::LoginPerIp, ip.unwrap_or_default())
            .await?;
        Ok(())
    }

    /// Users' addresses (the hosted sign-in page's "send the link again").
    pub fn addresses(&self) -> &EmailAddresses {
        &self.email
    }

    /// With verification required, a user whose address is not verified is refused (after
    /// the credentials were checked, so the refusal tells only their holder), audited and
    /// counted as `email_not_verified`.
    async fn verified_address(
        &self,
        user: &User,
        client_id: &str,
        ip: Option<String>,
    ) -> Result<(), OAuthError> {
        if !self.email.must_verify(user) {
            return Ok(());
        }
        crate::metrics::login_failed("email_not_verified");
        let event = AuditEvent::new("login_failed", "denied")
            .user(user.id)
            .client(client_id)
            .ip(ip)
            .detail(json!({ "reason": "email_not_verified" }));
        self.audit.record(event).await;
        Err(OAuthError::EmailNotVerified)
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

    /// The pending sign-in of `mfa_token` (which must be `client_id`'s when given) and its
    /// user, whose password must not have changed since the first step; `None` when there
    /// is none such.
    async fn pending(
        &self,
        client_id: Option<&str>,
        mfa_token: &str,
    ) -> Result<Option<(User, PendingLogin)>, StoreError> {
        let Some(pending) = self.mfa.peek_mfa_token(mfa_token).await? else {
            return Ok(None);
        };
        if client_id.is_some_and(|id| id != pending.client_id) {
            return Ok(None);
        }
        // a password change or reset since the password step voids the pending sign-in
        let user = self
            .users
            .find_user(pending.user_id)
            .await?
            .filter(|u| mfa::password_fingerprint(u) == pending.password);
        Ok(user.map(|user| (user, pending)))
    }

    /// The second step of a password sign-in: the pending sign-in of `mfa_token`, the
    /// account's lockout counted before the proof is checked, a valid proof, and the token
    /// used up. A refused proof is counted and audited, and leaves the token usable.
    pub async fn second_factor(
        &self,
        client_id: Option<&str>,
        mfa_token: &str,
        proof: Proof<'_>,
        ip: Option<String>,
    ) -> Result<TwoFactors, SecondFactorError> {
        let (user, pending) = self
            .pending(client_id, mfa_token)
            .await?
            .ok_or(SecondFactorError::Expired)?;
        self.limiter
            .login_attempt(&user.email, ip.as_deref())
            .await
            .map_err(|e| SecondFactorError::Refused(e.into()))?;
        // the proof checked: the sign-in's `amr`, or the refusal and the reason it is counted under
        let checked: Result<&[&str], (&'static str, SecondFactorError)> = match proof {
            Proof::Code { otp, recovery_code } => {
                match self.mfa.verify(&user, otp, recovery_code).await {
                    Ok(()) => Ok(&["pwd", "otp"]),
                    Err(MfaError::Store(e)) => return Err(e.into()),
                    Err(_) => Err(("wrong_otp", SecondFactorError::WrongCode)),
                }
            }
            Proof::Passkey {
                ceremony,
                credential,
            } => {
                let answered =
                    self.second_passkey(&user, mfa_token, ceremony, credential, ip.as_deref());
                match answered.await {
                    Ok(()) => Ok(&["pwd", "hwk", "mfa"]),
                    Err(PasskeyError::Store(e)) => return Err(e.into()),
                    Err(e) => Err((passkey::reason(&e), SecondFactorError::WrongPasskey)),
                }
            }
        };
        let amr = match checked {
            // after an upstream sign-in, its methods stand where the password would
            Ok(amr) => match &pending.first {
                Some(first) => {
                    let mut all = first.clone();
                    for method in amr.iter().skip(1) {
                        if !all.iter().any(|m| m == method) {
                            all.push((*method).to_owned());
                        }
                    }
                    all
                }
                None => amr.iter().map(|m| (*m).to_owned()).collect(),
            },
            Err((reason, error)) => {
                crate::metrics::login_failed(reason);
                let event = AuditEvent::new("mfa_failed", "denied")
                    .user(user.id)
                    .client(pending.client_id.as_str())
                    .ip(ip)
                    .detail(json!({ "reason": reason }));
                self.audit.record(event).await;
                return Err(error);
            }
        };
        if !self.mfa.take_mfa_token(mfa_token).await? {
            return Err(SecondFactorError::Expired);
        }
        self.limiter
            .login_succeeded(&user.email, ip.as_deref())
            .await;
        Ok(TwoFactors { user, pending, amr })
    }
}

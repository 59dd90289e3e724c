//! Passkeys in the sign-in (WebAuthn Level 3, book § Passkeys): a passkey alone, behind
//! `POST /api/v1/session/passkey` and the hosted sign-in page's button and autofill, and a
//! passkey answering a password's second step, whose ceremony is bound to that step.

use serde_json::json;
use webauthn_rs_core::proto::PublicKeyCredential;

use super::Authenticator;
use crate::domain::{Client, Email, Failure, User};
use crate::service::abuse::Bucket;
use crate::service::passkeys::{self, Ceremony, PasskeyError};
use crate::store::{AuditEvent, SessionMeta};

impl Authenticator {
    /// A passkey of `user` answering the ceremony started for the step of `mfa_token`.
    pub(super) async fn second_passkey(
        &self,
        user: &User,
        mfa_token: &str,
        ceremony: &str,
        credential: &PublicKeyCredential,
        ip: Option<&str>,
    ) -> Result<(), PasskeyError> {
        let passkey = self.passkeys.stored(credential.get_credential_id()).await?;
        let asserted = self
            .passkeys
            .authenticate(ceremony, Some(mfa_token), credential, passkey, ip)
            .await?;
        match asserted.user_id == user.id {
            true => Ok(()),
            false => Err(PasskeyError::Unknown),
        }
    }

    /// Starts the passkey answer to the second step of `mfa_token`: a ceremony listing the
    /// user's passkeys, bound to this step. Counted against the address's rate limit.
    pub async fn second_factor_options(
        &self,
        mfa_token: &str,
        ip: Option<&str>,
    ) -> Result<Ceremony, Failure> {
        self.limiter
            .check(Bucket::LoginPerIp, ip.unwrap_or_default())
            .await?;
        let (user, _) = self
            .pending(None, mfa_token)
            .await?
            .ok_or(Failure::Unauthorized)?;
        let options = self
            .passkeys
            .authentication_options(Some(&user), Some(mfa_token));
        Ok(options.await?)
    }

    /// Whether the pending second step of `mfa_token` may be answered with a passkey (the
    /// page shown again after a refused answer offers it again).
    pub async fn offers_passkey(&self, mfa_token: &str) -> bool {
        match self.pending(None, mfa_token).await {
            Ok(Some((user, _))) => self.passkeys.any(user.id).await.unwrap_or(false),
            _ => false,
        }
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
    ) -> Result<Ceremony, Failure> {
        self.limiter
            .check(Bucket::LoginPerIp, ip.unwrap_or_default())
            .await?;
        let user = match email {
            Some(email) => {
                let email = Email::parse(email)
                    .map_err(|e| Failure::invalid("invalid_request", format!("email: {e}")))?;
                self.users.find_user_by_email(&email).await?
            }
            None => None,
        };
        Ok(self
            .passkeys
            .authentication_options(user.as_ref(), None)
            .await?)
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
    ) -> Result<(User, Vec<String>), Failure> {
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
            .authenticate(ceremony, None, credential, passkey, ip);
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
            .ok_or(Failure::Unauthorized)?;
        self.limiter.login_succeeded(&user.email, ip).await;
        if self
            .verified_address(&user, client.id.as_str(), meta.ip.clone())
            .await
            .is_err()
        {
            return Err(Failure::Forbidden(
                "email_not_verified",
                crate::domain::EMAIL_NOT_VERIFIED,
            ));
        }
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
        let reason = reason(error);
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

/// The reason a refused passkey answer is counted and audited under.
pub(super) fn reason(error: &PasskeyError) -> &'static str {
    match error {
        PasskeyError::Expired => "passkey_ceremony_expired",
        PasskeyError::Unknown => "passkey_unknown",
        PasskeyError::CounterRegressed => "passkey_counter_regressed",
        _ => "passkey_invalid",
    }
}

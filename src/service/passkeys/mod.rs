//! Passkeys (WebAuthn Level 3, W3C; book § Passkeys): the registration and authentication
//! ceremonies on `webauthn-rs-core`, the kanidm project's verifier, and the passkeys each
//! user holds.
//!
//! - Registration asks for a discoverable credential (`residentKey: required`),
//!   `userVerification: preferred`, attestation `none`, and excludes the credentials the
//!   user has already.
//! - Authentication is discoverable (no `allowCredentials`: the browser offers the
//!   passkeys it holds for this RP ID, autofill included) or, for a named user, lists that
//!   user's credentials.
//! - Each ceremony's state (its 32-byte challenge and what it allows) is kept server side
//!   for five minutes under a random ceremony id, and taken by the first finish: a
//!   replayed, expired or unknown ceremony is refused.
//! - A use is recorded only if the stored sign counter is still the one it was verified
//!   against; a counter that does not move forward (a cloned authenticator) is refused
//!   and audited.
//!
//! Who may register, and what a sign-in gives, is the callers' (`mfa::account::Account`,
//! `signin::authenticate::Authenticator`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::Credential;
use webauthn_rs_core::WebauthnCore;

use crate::clock::Clock;
use crate::config::WebauthnSettings;
use crate::domain::{PasskeyId, User, UserId};
use crate::notify::NoticeKind;
use crate::service::audit::Auditor;
use crate::service::outbox::Outbox;
use crate::store::{AuditEvent, MfaTokenStore, PasskeyStore, StoreError, StoredPasskey, Stores};

mod ceremonies;

/// How long a ceremony may take, from its options to its finish.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);

/// The longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// No relying party is configured (an issuer on an IP address, no RP ID).
    #[error("passkeys are not available on this server")]
    Off,
    /// The ceremony is unknown, used, expired or of another kind or user.
    #[error("the passkey ceremony expired; start again")]
    Expired,
    /// The credential is not one of tessera's, or not the ceremony's user's.
    #[error("this passkey is not registered here")]
    Unknown,
    /// The response failed verification (origin, RP ID, challenge, signature, flags).
    #[error("the passkey response is not valid")]
    Invalid,
    /// The sign counter did not move forward: possibly a cloned authenticator.
    #[error("the passkey's sign counter went backwards")]
    CounterRegressed,
    /// The credential is registered already.
    #[error("this passkey is registered already")]
    Duplicate,
    /// The user has no passkey with this id.
    #[error("no such passkey")]
    NotFound,
    /// A second step by passkey for a user who has none.
    #[error("this account has no passkey")]
    NoneToList,
    #[error("{0}")]
    BadName(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PasskeyError> for crate::domain::Failure {
    fn from(e: PasskeyError) -> Self {
        use crate::domain::Failure;
        match e {
            PasskeyError::Off => Failure::NotFound,
            PasskeyError::Expired => Failure::invalid(
                "ceremony_expired",
                "the passkey ceremony is unknown, used or expired; start again",
            ),
            PasskeyError::Unknown | PasskeyError::Invalid | PasskeyError::CounterRegressed => {
                Failure::Unauthorized
            }
            PasskeyError::Duplicate => {
                Failure::Conflict("passkey_exists", "this passkey is registered already")
            }
            PasskeyError::NotFound => Failure::NotFound,
            PasskeyError::NoneToList => {
                Failure::invalid("no_passkey", "this account has no passkey")
            }
            PasskeyError::BadName(why) => Failure::invalid("invalid_request", why),
            PasskeyError::Store(e) => e.into(),
        }
    }
}

/// Options for the browser (`publicKey` of `navigator.credentials.create()` or `.get()`,
/// as JSON) and the ceremony id its finish must bring back.
#[derive(Debug)]
pub struct Ceremony {
    pub id: String,
    pub public_key: Value,
}

/// A verified assertion: whose passkey, and whether the user was verified.
#[derive(Debug)]
pub struct Asserted {
    pub user_id: UserId,
    pub user_verified: bool,
}

/// The passkey ceremonies and store.
#[derive(Clone)]
pub struct Passkeys {
    core: Option<Arc<WebauthnCore>>,
    store: Arc<dyn PasskeyStore>,
    ceremonies: Arc<dyn MfaTokenStore>,
    audit: Auditor,
    /// Tells the user a passkey was added or removed.
    outbox: Outbox,
    clock: Arc<dyn Clock>,
}

impl Passkeys {
    /// `relying_party`: `None` turns passkeys off (every ceremony answers `Off`).
    pub fn new(
        stores: &Stores,
        relying_party: Option<&WebauthnSettings>,
        audit: Auditor,
        outbox: Outbox,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let core = relying_party.map(|rp| {
            Arc::new(WebauthnCore::new_unsafe_experts_only(
                &rp.rp_id,
                &rp.rp_id,
                rp.origins.clone(),
                CEREMONY_TTL,
                Some(false),
                Some(false),
            ))
        });
        Passkeys {
            core,
            store: stores.passkeys.clone(),
            ceremonies: stores.mfa_tokens.clone(),
            audit,
            outbox,
            clock,
        }
    }

    pub fn enabled(&self) -> bool {
        self.core.is_some()
    }

    fn core(&self) -> Result<&WebauthnCore, PasskeyError> {
        self.core.as_deref().ok_or(PasskeyError::Off)
    }

    /// The passkey with this credential id: a sign-in reads it once, to name its owner for
    /// the lockout and then to verify the assertion against it.
    pub async fn stored(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, PasskeyError> {
        self.core()?;
        Ok(self.store.passkey_by_credential(credential_id).await?)
    }

    /// Whether `user` has a passkey (and passkeys are on): the second-factor step offers one.
    pub async fn any(&self, user: UserId) -> Result<bool, StoreError> {
        if !self.enabled() {
            return Ok(false);
        }
        Ok(!self.store.user_passkeys(user).await?.is_empty())
    }

    pub async fn list(&self, user: UserId) -> Result<Vec<StoredPasskey>, PasskeyError> {
        Ok(self.store.user_passkeys(user).await?)
    }

    pub async fn rename(
        &self,
        user: UserId,
        id: PasskeyId,
        name: &str,
    ) -> Result<(), PasskeyError> {
        let name = passkey_name(Some(name))?;
        match self.store.rename_passkey(user, id, &name).await? {
            true => Ok(()),
            false => Err(PasskeyError::NotFound),
        }
    }

    pub async fn delete(
        &self,
        user: &User,
        id: PasskeyId,
        ip: Option<&str>,
    ) -> Result<(), PasskeyError> {
        let notice = self
            .outbox
            .notice(user, NoticeKind::PasskeyRemoved, self.clock.now())?;
        if !self
            .store
            .delete_passkey(user.id, id, Some(&notice))
            .await?
        {
            return Err(PasskeyError::NotFound);
        }
        self.outbox.wake();
        let event = AuditEvent::new("passkey_deleted", "ok")
            .user(user.id)
            .ip(ip.map(str::to_owned))
            .detail(json!({ "passkey": id }));
        self.audit.record(event).await;
        Ok(())
    }
}

/// The `amr` values (RFC 8176) of a passkey sign-in: `hwk`, and `mfa` when the
/// authenticator verified the user (a PIN or biometric on top of possession).
pub fn amr(user_verified: bool) -> Vec<String> {
    let mut amr = vec!["hwk".to_owned()];
    if user_verified {
        amr.push("mfa".to_owned());
    }
    amr
}

fn stored_credential(passkey: &StoredPasskey) -> Result<Credential, PasskeyError> {
    serde_json::from_value(passkey.credential.clone()).map_err(|e| {
        PasskeyError::Store(StoreError::Corrupt(format!("passkey {}: {e}", passkey.id)))
    })
}

/// The name given, trimmed, or "Passkey"; at most `MAX_PASSKEY_NAME_CHARS`, no control characters.
fn passkey_name(name: Option<&str>) -> Result<String, PasskeyError> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Passkey");
    if name.chars().count() > MAX_PASSKEY_NAME_CHARS {
        return Err(PasskeyError::BadName("name: at most 64 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(PasskeyError::BadName("name: no control characters"));
    }
    Ok(name.to_owned())
}

/// A response that failed verification: why goes to the log (it names no secret), the
/// caller gets `Invalid`.
fn refused(ceremony: &str, e: &WebauthnError) -> PasskeyError {
    tracing::info!(ceremony, reason = %e, "passkey response refused");
    PasskeyError::Invalid
}

fn internal(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Store(StoreError::Other(anyhow::anyhow!("webauthn: {e}")))
}

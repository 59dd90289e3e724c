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

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState, COSEAlgorithm, Credential,
    PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState,
    RequestRegistrationExtensions, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use crate::clock::Clock;
use crate::config::WebauthnSettings;
use crate::domain::{PasskeyId, User, UserId};
use crate::service::audit::Auditor;
use crate::store::{
    AuditEvent, MfaTokenStore, PasskeyStore, PasskeyUse, StoreError, StoredPasskey, Stores,
};

/// How long a ceremony may take, from its options to its finish.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);

/// The prefix of a ceremony id (its stored digest is kept apart from MFA tokens').
const CEREMONY_PREFIX: &str = "tsp_";

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

/// A verified assertion: whose passkey, which, and whether the user was verified.
#[derive(Debug)]
pub struct Asserted {
    pub user_id: UserId,
    pub passkey: PasskeyId,
    pub user_verified: bool,
}

/// What a ceremony keeps between its options and its finish, and until when (Unix
/// seconds: checked here too, whatever the store's own expiry).
#[derive(Serialize, Deserialize)]
struct Kept {
    expires_at: i64,
    pending: Pending,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Pending {
    Register {
        user: UserId,
        state: RegistrationState,
    },
    /// `user`: the ceremony listed that user's credentials; `None`: discoverable.
    Authenticate {
        user: Option<UserId>,
        state: AuthenticationState,
    },
}

/// The passkey ceremonies and store.
#[derive(Clone)]
pub struct Passkeys {
    core: Option<Arc<WebauthnCore>>,
    store: Arc<dyn PasskeyStore>,
    ceremonies: Arc<dyn MfaTokenStore>,
    audit: Auditor,
    clock: Arc<dyn Clock>,
}

impl Passkeys {
    /// `relying_party`: `None` turns passkeys off (every ceremony answers `Off`).
    pub fn new(
        stores: &Stores,
        relying_party: Option<&WebauthnSettings>,
        audit: Auditor,
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
            clock,
        }
    }

    pub fn enabled(&self) -> bool {
        self.core.is_some()
    }

    fn core(&self) -> Result<&WebauthnCore, PasskeyError> {
        self.core.as_deref().ok_or(PasskeyError::Off)
    }

    /// Keeps `pending` under a new ceremony id, for five minutes.
    async fn open(&self, pending: Pending, public_key: Value) -> Result<Ceremony, PasskeyError> {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let id = format!("{CEREMONY_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
        let now = self.clock.now();
        let kept = Kept {
            expires_at: (now + CEREMONY_TTL).unix_timestamp(),
            pending,
        };
        let value = serde_json::to_string(&kept).map_err(|e| StoreError::Other(e.into()))?;
        self.ceremonies
            .put_mfa_token(&ceremony_digest(&id), &value, CEREMONY_TTL, now)
            .await?;
        Ok(Ceremony { id, public_key })
    }

    /// Takes the ceremony `id` away: `Some` for exactly one caller, within its five minutes.
    async fn take(&self, id: &str) -> Result<Pending, PasskeyError> {
        if !id.starts_with(CEREMONY_PREFIX) || id.len() > 128 {
            return Err(PasskeyError::Expired);
        }
        let now = self.clock.now();
        let value = self
            .ceremonies
            .take_mfa_token(&ceremony_digest(id), now)
            .await?
            .ok_or(PasskeyError::Expired)?;
        let kept: Kept = serde_json::from_str(&value).map_err(|_| PasskeyError::Expired)?;
        if now.unix_timestamp() > kept.expires_at {
            return Err(PasskeyError::Expired);
        }
        Ok(kept.pending)
    }

    /// Starts registering a passkey for `user`: a discoverable credential, user verification
    /// preferred, no attestation, none of the user's present credentials.
    pub async fn registration_options(&self, user: &User) -> Result<Ceremony, PasskeyError> {
        let core = self.core()?;
        let existing = self.store.user_passkeys(user.id).await?;
        let exclude = existing.into_iter().map(|p| p.credential_id).collect();
        let email = user.email.as_str();
        let shown = user
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(email);
        let builder = core
            .new_challenge_register_builder(user.id.as_bytes(), email, shown)
            .map_err(|_| PasskeyError::Invalid)?
            .attestation(AttestationConveyancePreference::None)
            .credential_algorithms(COSEAlgorithm::secure_algs())
            .require_resident_key(true)
            .user_verification_policy(UserVerificationPolicy::Preferred)
            .exclude_credentials(Some(exclude))
            .extensions(Some(RequestRegistrationExtensions {
                cred_props: Some(true),
                ..Default::default()
            }));
        let (options, state) = core
            .generate_challenge_register(builder)
            .map_err(internal)?;
        let public_key = serde_json::to_value(options.public_key).map_err(internal)?;
        let pending = Pending::Register {
            user: user.id,
            state,
        };
        self.open(pending, public_key).await
    }

    /// Finishes a registration `user` started: the attestation verified, the passkey stored
    /// under `name`.
    pub async fn register(
        &self,
        user: &User,
        ceremony: &str,
        credential: &RegisterPublicKeyCredential,
        name: Option<&str>,
        ip: Option<&str>,
    ) -> Result<StoredPasskey, PasskeyError> {
        let core = self.core()?;
        let name = passkey_name(name)?;
        let Pending::Register { user: owner, state } = self.take(ceremony).await? else {
            return Err(PasskeyError::Expired);
        };
        if owner != user.id {
            return Err(PasskeyError::Expired);
        }
        let credential = core
            .register_credential(credential, &state, None)
            .map_err(|e| refused("registration", &e))?;
        let now = self.clock.now();
        let passkey = StoredPasskey {
            id: PasskeyId::generate(),
            user_id: user.id,
            credential_id: credential.cred_id.clone(),
            name,
            counter: credential.counter,
            backed_up: credential.backup_state,
            credential: serde_json::to_value(&credential).map_err(internal)?,
            created_at: now,
            last_used_at: None,
        };
        if !self.store.add_passkey(&passkey).await? {
            return Err(PasskeyError::Duplicate);
        }
        let event = AuditEvent::new("passkey_added", "ok")
            .user(user.id)
            .ip(ip.map(str::to_owned))
            .detail(json!({ "passkey": passkey.id, "backed_up": passkey.backed_up }));
        self.audit.record(event).await;
        Ok(passkey)
    }

    /// Starts a sign-in: for `user`, with that user's credentials listed; without, a
    /// discoverable one (the browser offers what it holds for this RP ID).
    pub async fn authentication_options(
        &self,
        user: Option<&User>,
    ) -> Result<Ceremony, PasskeyError> {
        let core = self.core()?;
        let mut credentials = Vec::new();
        if let Some(user) = user {
            for passkey in self.store.user_passkeys(user.id).await? {
                credentials.push(stored_credential(&passkey)?);
            }
        }
        let builder = core
            .new_challenge_authenticate_builder(
                credentials,
                Some(UserVerificationPolicy::Preferred),
            )
            .map_err(internal)?
            .allow_backup_eligible_upgrade(true);
        let (options, state) = core
            .generate_challenge_authenticate(builder)
            .map_err(internal)?;
        let public_key = serde_json::to_value(options.public_key).map_err(internal)?;
        let pending = Pending::Authenticate {
            user: user.map(|u| u.id),
            state,
        };
        self.open(pending, public_key).await
    }

    /// Verifies an assertion for ceremony `ceremony` and records the use. A counter that
    /// did not move forward is audited against the passkey's owner.
    pub async fn authenticate(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
        ip: Option<&str>,
    ) -> Result<Asserted, PasskeyError> {
        let core = self.core()?;
        let Pending::Authenticate { user, state } = self.take(ceremony).await? else {
            return Err(PasskeyError::Expired);
        };
        let passkey = self
            .store
            .passkey_by_credential(credential.get_credential_id())
            .await?
            .ok_or(PasskeyError::Unknown)?;
        // a listed ceremony takes only its user's passkeys; a discoverable one must name
        // the passkey's owner in the user handle (WebAuthn §7.2 step 6)
        let handle = credential.get_user_unique_id();
        let owner_named = handle.is_some_and(|h| h == passkey.user_id.as_bytes());
        let owner_ok = match user {
            Some(user) => user == passkey.user_id && (handle.is_none() || owner_named),
            None => owner_named,
        };
        if !owner_ok {
            return Err(PasskeyError::Unknown);
        }
        let mut stored = stored_credential(&passkey)?;
        let result = match core.authenticate_single_credential(credential, &state, &stored) {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                let event = AuditEvent::new("passkey_counter_regressed", "denied")
                    .user(passkey.user_id)
                    .ip(ip.map(str::to_owned))
                    .detail(json!({ "passkey": passkey.id, "stored_counter": passkey.counter }));
                self.audit.record(event).await;
                return Err(PasskeyError::CounterRegressed);
            }
            Err(e) => return Err(refused("authentication", &e)),
        };
        stored.counter = stored.counter.max(result.counter());
        stored.backup_state = result.backup_state();
        stored.backup_eligible |= result.backup_eligible();
        let used = PasskeyUse {
            seen_counter: passkey.counter,
            counter: stored.counter,
            backed_up: stored.backup_state,
            credential: serde_json::to_value(&stored).map_err(internal)?,
        };
        let now = self.clock.now();
        // not recorded: the passkey was deleted meanwhile, or another use of the same
        // counter value was recorded first (an authenticator without a counter always
        // reports 0, and its uses do not conflict)
        if !self
            .store
            .record_passkey_use(passkey.id, &used, now)
            .await?
        {
            return Err(match used.counter {
                0 => PasskeyError::Unknown,
                _ => PasskeyError::CounterRegressed,
            });
        }
        Ok(Asserted {
            user_id: passkey.user_id,
            passkey: passkey.id,
            user_verified: result.user_verified(),
        })
    }

    /// Whose passkey this credential id is.
    pub async fn owner(&self, credential_id: &[u8]) -> Result<Option<UserId>, PasskeyError> {
        self.core()?;
        let passkey = self.store.passkey_by_credential(credential_id).await?;
        Ok(passkey.map(|p| p.user_id))
    }

    pub async fn list(&self, user: UserId) -> Result<Vec<StoredPasskey>, PasskeyError> {
        Ok(self.store.user_passkeys(user).await?)
    }

    pub async fn has_passkeys(&self, user: UserId) -> Result<bool, PasskeyError> {
        Ok(self.enabled() && !self.store.user_passkeys(user).await?.is_empty())
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
        user: UserId,
        id: PasskeyId,
        ip: Option<&str>,
    ) -> Result<(), PasskeyError> {
        if !self.store.delete_passkey(user, id).await? {
            return Err(PasskeyError::NotFound);
        }
        let event = AuditEvent::new("passkey_deleted", "ok")
            .user(user)
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

fn ceremony_digest(id: &str) -> String {
    format!("passkey:{}", hex::encode(Sha256::digest(id.as_bytes())))
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

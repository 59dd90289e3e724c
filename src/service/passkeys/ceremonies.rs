//! The ceremonies (WebAuthn Level 3 §7): their options, what each keeps server side between
//! options and finish (single use, five minutes), and the verification of the answer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticationState, COSEAlgorithm, PublicKeyCredential,
    RegisterPublicKeyCredential, RegistrationState, RequestRegistrationExtensions,
    UserVerificationPolicy,
};

use super::{
    internal, passkey_name, refused, stored_credential, Asserted, Ceremony, PasskeyError, Passkeys,
    CEREMONY_TTL,
};
use crate::domain::{PasskeyId, User, UserId};
use crate::notify::NoticeKind;
use crate::store::{AuditEvent, PasskeyUse, StoreError, StoredPasskey};

/// The prefix of a ceremony id (its stored digest is kept apart from MFA tokens').
const CEREMONY_PREFIX: &str = "tsp_";

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
    /// `second_factor`: the digest of the pending password sign-in this ceremony is the
    /// second step of; `None` for a sign-in with the passkey alone.
    Authenticate {
        user: Option<UserId>,
        #[serde(default)]
        second_factor: Option<String>,
        state: AuthenticationState,
    },
}

impl Passkeys {
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
        let notice = self.outbox.notice(user, NoticeKind::PasskeyAdded, now)?;
        if !self.store.add_passkey(&passkey, Some(&notice)).await? {
            return Err(PasskeyError::Duplicate);
        }
        self.outbox.wake();
        let event = AuditEvent::new("passkey_added", "ok")
            .user(user.id)
            .ip(ip.map(str::to_owned))
            .detail(json!({ "passkey": passkey.id, "backed_up": passkey.backed_up }));
        self.audit.record(event).await;
        Ok(passkey)
    }

    /// Starts a sign-in: for `user`, with that user's credentials listed; without, a
    /// discoverable one (the browser offers what it holds for this RP ID). `second_factor`:
    /// the pending password sign-in (its single-use token) that this ceremony completes;
    /// only a finish that brings the same token may use it, and the user must have a
    /// passkey to list.
    pub async fn authentication_options(
        &self,
        user: Option<&User>,
        second_factor: Option<&str>,
    ) -> Result<Ceremony, PasskeyError> {
        let core = self.core()?;
        let mut credentials = Vec::new();
        if let Some(user) = user {
            for passkey in self.store.user_passkeys(user.id).await? {
                credentials.push(stored_credential(&passkey)?);
            }
        }
        if second_factor.is_some() && credentials.is_empty() {
            return Err(PasskeyError::NoneToList);
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
            second_factor: second_factor.map(binding_digest),
            state,
        };
        self.open(pending, public_key).await
    }

    /// Verifies an assertion for ceremony `ceremony` against `passkey`, the stored passkey
    /// of its credential id (`stored`), and records the use. `second_factor` must be the
    /// pending sign-in the ceremony was started for (`None` for a passkey alone). A counter
    /// that did not move forward is audited against the passkey's owner.
    pub async fn authenticate(
        &self,
        ceremony: &str,
        second_factor: Option<&str>,
        credential: &PublicKeyCredential,
        passkey: Option<StoredPasskey>,
        ip: Option<&str>,
    ) -> Result<Asserted, PasskeyError> {
        let core = self.core()?;
        let Pending::Authenticate {
            user,
            second_factor: bound,
            state,
        } = self.take(ceremony).await?
        else {
            return Err(PasskeyError::Expired);
        };
        if bound != second_factor.map(binding_digest) {
            return Err(PasskeyError::Expired);
        }
        let passkey = passkey
            .filter(|p| p.credential_id == credential.get_credential_id())
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
            user_verified: result.user_verified(),
        })
    }
}

fn ceremony_digest(id: &str) -> String {
    format!("passkey:{}", hex::encode(Sha256::digest(id.as_bytes())))
}

/// What a ceremony keeps of the pending sign-in it completes: a digest, not the token.
fn binding_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

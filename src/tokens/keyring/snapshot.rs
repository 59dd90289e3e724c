//! The key ring's published view (book § Signing keys): what one reading of the stored keys yields —
//! signers, verifiers, the keys as operators see them and the JWKS bytes with their ETag.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use josekit::jws::{JwsSigner, JwsVerifier};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{KeyRing, KeyRingError};
use crate::crypto::{KeyMaterial, KeyState, Purpose, SealError, SigningAlg};
use crate::store::SigningKeyRow;

/// A key as shown to operators and verifiers (no private material).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublishedKey {
    #[schema(value_type = String)]
    pub kid: crate::domain::Kid,
    pub alg: SigningAlg,
    pub state: KeyState,
    /// Whether the key is currently in the JWKS.
    pub published: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub activated_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retiring_at: Option<OffsetDateTime>,
    /// When a retiring key leaves the JWKS.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retire_after: Option<OffsetDateTime>,
    #[schema(value_type = Object)]
    pub public_jwk: Map<String, Value>,
}

/// The JWKS body and its strong ETag, computed once per key-ring change.
#[derive(Debug, Clone)]
pub struct JwksDocument {
    pub bytes: Bytes,
    pub etag: String,
}

/// The signer for one algorithm's active key.
#[derive(Debug)]
pub struct ActiveSigner {
    pub kid: crate::domain::Kid,
    pub signer: Box<dyn JwsSigner>,
}

/// A verifier for one published key; its algorithm is the only one it accepts.
#[derive(Debug)]
pub struct KeyVerifier {
    pub alg: SigningAlg,
    pub verifier: Box<dyn JwsVerifier>,
}

pub(super) struct Snapshot {
    /// The store's key-ring version this snapshot was read at.
    pub(super) version: i64,
    /// The next time the published set changes without anyone acting: a retiring key
    /// leaves the JWKS, or a scheduled rotation is due.
    pub(super) next_change: Option<OffsetDateTime>,
    pub(super) keys: Vec<PublishedKey>,
    pub(super) signers: HashMap<SigningAlg, Arc<ActiveSigner>>,
    /// Published (so never revoked or retired) keys by kid.
    pub(super) verifiers: HashMap<crate::domain::Kid, Arc<KeyVerifier>>,
    pub(super) jwks: Arc<JwksDocument>,
}

impl KeyRing {
    pub(super) fn build_snapshot(
        &self,
        version: i64,
        rows: &[SigningKeyRow],
    ) -> Result<Snapshot, KeyRingError> {
        let now = self.clock.now();
        let mut signers = HashMap::new();
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows.iter().filter(|r| self.config.algs.contains(&r.alg)) {
            // every key is unsealed, and what is published is what its private key derives:
            // a stored public part that differs is refused (no key of anyone's making is published)
            let material = self.open(row)?;
            if row.state == KeyState::Active && row.revoked_at.is_none() {
                let signer = material
                    .signer()
                    .map_err(|_| KeyRingError::CorruptKey(row.kid.clone()))?;
                signers.insert(
                    row.alg,
                    Arc::new(ActiveSigner {
                        kid: row.kid.clone(),
                        signer,
                    }),
                );
            }
            let retire_after = row.retiring_at.map(|at| at + self.config.retire_after);
            let published = row.revoked_at.is_none()
                && match row.state {
                    KeyState::Next | KeyState::Active => true,
                    KeyState::Retiring => retire_after.is_some_and(|t| now < t),
                    KeyState::Retired => false,
                };
            keys.push(PublishedKey {
                kid: row.kid.clone(),
                alg: row.alg,
                state: row.state,
                published,
                created_at: row.created_at,
                activated_at: row.activated_at,
                retiring_at: row.retiring_at,
                retire_after,
                public_jwk: material.public_jwk,
            });
        }
        keys.sort_by_key(|k| (state_order(k.state), k.alg, k.created_at));
        let mut verifiers = HashMap::new();
        for key in keys.iter().filter(|k| k.published) {
            let verifier = KeyMaterial::verifier(key.alg, &key.public_jwk)
                .map_err(|_| KeyRingError::CorruptKey(key.kid.clone()))?;
            verifiers.insert(
                key.kid.clone(),
                Arc::new(KeyVerifier {
                    alg: key.alg,
                    verifier,
                }),
            );
        }
        let jwks = Arc::new(jwks_document(keys.iter().filter(|k| k.published)));
        let unpublish = keys
            .iter()
            .filter(|k| k.published)
            .filter_map(|k| k.retire_after);
        let scheduled = keys
            .iter()
            .filter(|k| k.state == KeyState::Active)
            .filter_map(|k| Some(k.activated_at? + self.config.rotation_interval?));
        let next_change = unpublish.chain(scheduled).min();
        Ok(Snapshot {
            version,
            next_change,
            keys,
            signers,
            verifiers,
            jwks,
        })
    }

    /// Unseals a stored key and checks that it is the key its kid names and that its
    /// stored public JWK is the one the private key derives.
    fn open(&self, row: &SigningKeyRow) -> Result<KeyMaterial, KeyRingError> {
        let der = self
            .kek
            .open(Purpose::SigningKey, &row.private_sealed, row.kid.as_bytes())
            .map(zeroize::Zeroizing::new)
            .map_err(|e| match e {
                SealError::WrongKey => KeyRingError::KekMismatch,
                SealError::Malformed => KeyRingError::CorruptKey(row.kid.clone()),
            })?;
        let material = KeyMaterial::from_private_der(row.alg, &der)
            .map_err(|_| KeyRingError::CorruptKey(row.kid.clone()))?;
        if material.kid != row.kid || material.public_jwk != row.public_jwk {
            return Err(KeyRingError::CorruptKey(row.kid.clone()));
        }
        Ok(material)
    }
}

fn state_order(state: KeyState) -> u8 {
    match state {
        KeyState::Active => 0,
        KeyState::Next => 1,
        KeyState::Retiring => 2,
        KeyState::Retired => 3,
    }
}

pub(super) fn empty_snapshot() -> Snapshot {
    Snapshot {
        version: 0,
        next_change: None,
        keys: Vec::new(),
        signers: HashMap::new(),
        verifiers: HashMap::new(),
        jwks: Arc::new(jwks_document([].iter())),
    }
}

/// `{"keys":[...]}` and a strong ETag over exactly those bytes.
fn jwks_document<'a>(keys: impl Iterator<Item = &'a PublishedKey>) -> JwksDocument {
    let keys: Vec<&Map<String, Value>> = keys.map(|k| &k.public_jwk).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap_or_default();
    let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(Sha256::digest(&body)));
    JwksDocument {
        bytes: Bytes::from(body),
        etag,
    }
}

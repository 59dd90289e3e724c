//! The key ring (SPEC S3): per enabled algorithm one `active` (signing) and one `next`
//! (published, not yet signing) key; rotation; the JWKS served from pre-serialized bytes.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsSigner, JwsVerifier};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{Kek, KeyMaterial, Purpose, SigningAlg};
use crate::clock::Clock;
use crate::store::{KeyImport, KeyRevocation, KeyStore, NewSigningKey, SigningKeyRow, StoreError};

/// Lifecycle state of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retiring,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }
}

impl FromStr for KeyState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Next, Self::Active, Self::Retiring, Self::Retired]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("TESSERA_KEK does not open the stored signing keys: start with the key-encryption key they were sealed under")]
    KekMismatch,
    #[error("stored signing key {0} is corrupt")]
    CorruptKey(String),
    #[error("cannot import the key: {0}")]
    Import(String),
    #[error("key generation failed")]
    Generation(#[source] anyhow::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key as shown to operators and verifiers (no private material).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublishedKey {
    pub kid: String,
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
    pub kid: String,
    pub signer: Box<dyn JwsSigner>,
}

/// A verifier for one published key; its algorithm is the only one it accepts.
#[derive(Debug)]
pub struct KeyVerifier {
    pub alg: SigningAlg,
    pub verifier: Box<dyn JwsVerifier>,
}

struct Snapshot {
    /// The store's key-ring version this snapshot was read at.
    version: i64,
    /// The next time the published set changes without anyone acting: a retiring key
    /// leaves the JWKS, or a scheduled rotation is due.
    next_change: Option<OffsetDateTime>,
    keys: Vec<PublishedKey>,
    signers: HashMap<SigningAlg, Arc<ActiveSigner>>,
    /// Published (so never revoked or retired) keys by kid.
    verifiers: HashMap<String, Arc<KeyVerifier>>,
    jwks: Arc<JwksDocument>,
}

/// Settings the key ring needs.
#[derive(Debug, Clone)]
pub struct KeyRingConfig {
    pub algs: Vec<SigningAlg>,
    pub rsa_bits: u32,
    /// max access-token TTL + JWKS max-age + leeway: how long a retiring key stays published.
    pub retire_after: Duration,
    /// Scheduled rotation: an active key older than this is rotated (`None`: never).
    pub rotation_interval: Option<Duration>,
    pub jwks_max_age: Duration,
    pub jwks_stale_while_revalidate: Duration,
}

pub struct KeyRing {
    store: Arc<dyn KeyStore>,
    kek: Kek,
    config: KeyRingConfig,
    clock: Arc<dyn Clock>,
    snapshot: ArcSwap<Snapshot>,
}

impl KeyRing {
    /// Loads the ring as stored. Fails with `KekMismatch` when the KEK does not open it.
    pub async fn load(
        store: Arc<dyn KeyStore>,
        kek: Kek,
        config: KeyRingConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyRingError> {
        let ring = KeyRing {
            store,
            kek,
            config,
            clock,
            snapshot: ArcSwap::from_pointee(empty_snapshot()),
        };
        ring.reload().await?;
        Ok(ring)
    }

    /// Creates the missing `active`/`next` key of every enabled algorithm, then reloads.
    pub async fn ensure_keys(&self) -> Result<(), KeyRingError> {
        let existing = self.snapshot.load().keys.clone();
        for &alg in &self.config.algs {
            let has = |state| existing.iter().any(|k| k.alg == alg && k.state == state);
            if !(has(KeyState::Active) && has(KeyState::Next)) {
                let (active, next) = (self.generate(alg).await?, self.generate(alg).await?);
                self.store
                    .fill_missing_keys(alg, active, next, self.clock.now())
                    .await?;
            }
        }
        self.reload().await
    }

    /// Re-reads the keys from the store and swaps in a new snapshot.
    pub async fn reload(&self) -> Result<(), KeyRingError> {
        // the version first: a change landing in between is picked up by the next check
        let version = self.store.version().await?;
        let rows = self.store.list_signing_keys().await?;
        self.snapshot
            .store(Arc::new(self.build_snapshot(version, &rows)?));
        Ok(())
    }

    /// Reloads if another instance changed the ring or a timed change is due; the periodic
    /// fallback to change notifications. Returns whether it reloaded.
    pub async fn refresh(&self) -> Result<bool, KeyRingError> {
        let (version, next_change) = {
            let snapshot = self.snapshot.load();
            (snapshot.version, snapshot.next_change)
        };
        let due = next_change.is_some_and(|at| self.clock.now() >= at);
        if due || self.store.version().await? != version {
            self.reload().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Rotates `alg` (or every enabled algorithm): next → active, active → retiring, new next.
    /// Returns the newly active kid per algorithm.
    pub async fn rotate(
        &self,
        alg: Option<SigningAlg>,
    ) -> Result<Vec<(SigningAlg, String)>, KeyRingError> {
        let algs: Vec<SigningAlg> = alg.map_or_else(|| self.config.algs.clone(), |a| vec![a]);
        let mut rotated = Vec::with_capacity(algs.len());
        for alg in algs {
            let new_next = self.generate(alg).await?;
            if let Some(kid) = self
                .store
                .rotate(alg, new_next, None, self.clock.now())
                .await?
            {
                rotated.push((alg, kid));
            }
        }
        self.reload().await?;
        Ok(rotated)
    }

    /// The scheduled rotation: rotates each algorithm whose active key is older than the
    /// rotation interval. Safe on every instance at once: the store re-checks under its
    /// lock, so exactly one rotation happens per due key.
    pub async fn rotate_due(&self) -> Result<Vec<(SigningAlg, String)>, KeyRingError> {
        let Some(interval) = self.config.rotation_interval else {
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        let due_before = now - interval;
        let due: Vec<SigningAlg> = self
            .snapshot
            .load()
            .keys
            .iter()
            .filter(|k| k.state == KeyState::Active)
            .filter(|k| k.activated_at.is_some_and(|at| at <= due_before))
            .map(|k| k.alg)
            .collect();
        let mut rotated = Vec::new();
        for alg in due {
            let new_next = self.generate(alg).await?;
            if let Some(kid) = self
                .store
                .rotate(alg, new_next, Some(due_before), now)
                .await?
            {
                rotated.push((alg, kid));
            }
        }
        if !rotated.is_empty() {
            self.reload().await?;
        }
        Ok(rotated)
    }

    /// Emergency revocation: the key leaves the JWKS and stops verifying at once on this
    /// instance (others follow on the change notification). Revoking an active key promotes
    /// its `next`, and a fresh `next` is generated first, so the ring can always sign.
    pub async fn revoke(&self, kid: &str) -> Result<KeyRevocation, KeyRingError> {
        let rows = self.store.list_signing_keys().await?;
        let replacement = match rows.iter().find(|r| r.kid == kid) {
            Some(row) if self.config.algs.contains(&row.alg) => Some(self.generate(row.alg).await?),
            _ => None,
        };
        let outcome = self
            .store
            .revoke(kid, replacement, self.clock.now())
            .await?;
        self.reload().await?;
        Ok(outcome)
    }

    /// Imports a PEM private key as its algorithm's `next` key. Returns its kid and what
    /// the store did.
    pub async fn import(
        &self,
        alg: Option<SigningAlg>,
        pem: Vec<u8>,
    ) -> Result<(String, SigningAlg, KeyImport), KeyRingError> {
        let key = self
            .sealed_off_thread(move || {
                KeyMaterial::import_pem(alg, &pem).map_err(|e| KeyRingError::Import(e.to_string()))
            })
            .await?;
        if !self.config.algs.contains(&key.alg) {
            return Err(KeyRingError::Import(format!(
                "{} is not enabled (TESSERA_SIGNING_ALGS)",
                key.alg
            )));
        }
        let (kid, alg) = (key.kid.clone(), key.alg);
        let outcome = self.store.import_next(key, self.clock.now()).await?;
        self.reload().await?;
        Ok((kid, alg, outcome))
    }

    /// The store version of the loaded snapshot.
    pub fn version(&self) -> i64 {
        self.snapshot.load().version
    }

    /// `Cache-Control` for the JWKS: the configured max-age, cut so that no cache keeps
    /// the document past the next timed change of the key set.
    pub fn cache_control(&self) -> HeaderValue {
        let (max_age, swr) = {
            let snapshot = self.snapshot.load();
            let (max_age, swr) = (
                self.config.jwks_max_age.as_secs(),
                self.config.jwks_stale_while_revalidate.as_secs(),
            );
            match snapshot.next_change {
                Some(at) => {
                    let left = (at - self.clock.now()).whole_seconds().max(0) as u64;
                    let max_age = max_age.min(left);
                    (max_age, swr.min(left - max_age))
                }
                None => (max_age, swr),
            }
        };
        HeaderValue::from_str(&format!(
            "public, max-age={max_age}, stale-while-revalidate={swr}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
    }

    pub fn jwks(&self) -> Arc<JwksDocument> {
        self.snapshot.load().jwks.clone()
    }

    pub fn keys(&self) -> Vec<PublishedKey> {
        self.snapshot.load().keys.clone()
    }

    /// The active signer for `alg`, if that algorithm is enabled and has one.
    pub fn signer(&self, alg: SigningAlg) -> Option<Arc<ActiveSigner>> {
        self.snapshot.load().signers.get(&alg).cloned()
    }

    /// The verifier of a published key, or `None` for an unknown, retired or revoked kid.
    pub fn verifier(&self, kid: &str) -> Option<Arc<KeyVerifier>> {
        self.snapshot.load().verifiers.get(kid).cloned()
    }

    /// Every enabled algorithm can sign.
    pub fn is_ready(&self) -> bool {
        let snapshot = self.snapshot.load();
        self.config
            .algs
            .iter()
            .all(|a| snapshot.signers.contains_key(a))
    }

    pub fn enabled_algs(&self) -> &[SigningAlg] {
        &self.config.algs
    }

    /// Generates and seals a key off the async workers (RSA generation takes ~100 ms+).
    async fn generate(&self, alg: SigningAlg) -> Result<NewSigningKey, KeyRingError> {
        let bits = self.config.rsa_bits;
        self.sealed_off_thread(move || {
            KeyMaterial::generate(alg, bits).map_err(|e| KeyRingError::Generation(e.into()))
        })
        .await
    }

    /// Makes key material with `make` and seals it into a row, off the async workers: the
    /// one path from material to a stored key, for generated and imported keys alike.
    async fn sealed_off_thread(
        &self,
        make: impl FnOnce() -> Result<KeyMaterial, KeyRingError> + Send + 'static,
    ) -> Result<NewSigningKey, KeyRingError> {
        let kek = self.kek.clone();
        tokio::task::spawn_blocking(move || {
            let material = make()?;
            let private_sealed = kek.seal(
                Purpose::SigningKey,
                material.private_der(),
                material.kid.as_bytes(),
            );
            Ok(NewSigningKey {
                kid: material.kid,
                alg: material.alg,
                private_sealed,
                public_jwk: material.public_jwk,
            })
        })
        .await
        .map_err(|e| KeyRingError::Generation(e.into()))?
    }

    fn build_snapshot(
        &self,
        version: i64,
        rows: &[SigningKeyRow],
    ) -> Result<Snapshot, KeyRingError> {
        let now = self.clock.now();
        let mut signers = HashMap::new();
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows.iter().filter(|r| self.config.algs.contains(&r.alg)) {
            if matches!(row.state, KeyState::Active | KeyState::Next) {
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
                public_jwk: row.public_jwk.clone(),
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

    /// Unseals a stored key and checks that it is the key its kid names.
    fn open(&self, row: &SigningKeyRow) -> Result<KeyMaterial, KeyRingError> {
        let der = self
            .kek
            .open(Purpose::SigningKey, &row.private_sealed, row.kid.as_bytes())
            .map(zeroize::Zeroizing::new)
            .map_err(|e| match e {
                super::SealError::WrongKey => KeyRingError::KekMismatch,
                super::SealError::Malformed => KeyRingError::CorruptKey(row.kid.clone()),
            })?;
        let material = KeyMaterial::from_private_der(row.alg, &der)
            .map_err(|_| KeyRingError::CorruptKey(row.kid.clone()))?;
        if material.kid != row.kid {
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

fn empty_snapshot() -> Snapshot {
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

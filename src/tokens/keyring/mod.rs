//! The key ring (book § Signing keys): per enabled algorithm one `active` (signing) and one `next`
//! (published, not yet signing) key; rotation; the JWKS served from pre-serialized bytes.

mod snapshot;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::crypto::{Kek, KeyMaterial, KeyState, Purpose, SigningAlg};
use crate::store::{KeyImport, KeyRevocation, KeyStore, NewSigningKey, StoreError};
use snapshot::{empty_snapshot, Snapshot};
pub use snapshot::{ActiveSigner, JwksDocument, KeyVerifier, PublishedKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("TESSERA_KEK does not open the stored signing keys: start with the key-encryption key they were sealed under")]
    KekMismatch,
    #[error("stored signing key {0} is corrupt or forged: it must open with the KEK and its kid and public key must be the ones its sealed private key derives")]
    CorruptKey(crate::domain::Kid),
    #[error("cannot import the key: {0}")]
    Import(String),
    #[error("key generation failed")]
    Generation(#[source] anyhow::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}
/// Settings the key ring needs.
#[derive(Debug, Clone)]
pub struct KeyRingConfig {
    pub algs: Vec<SigningAlg>,
    pub rsa_bits: u32,
    /// longest access-token TTL (1 h) + JWKS max-age + leeway: how long a retiring key
    /// stays published.
    pub retire_after: Duration,
    /// Scheduled rotation: an active key older than this is rotated (`None`: never).
    pub rotation_interval: Option<Duration>,
    pub jwks_max_age: Duration,
    pub jwks_stale_while_revalidate: Duration,
}

impl KeyRingConfig {
    /// The key ring's part of the settings (book § Signing keys, book § Command line).
    pub fn new(settings: &crate::config::Settings) -> Self {
        KeyRingConfig {
            algs: settings.signing_algs.clone(),
            rsa_bits: settings.rsa_bits,
            // the longest lifetime a token could have been signed with, not today's TTL:
            // tokens signed before a lowered TTL keep their longer lifetime
            retire_after: crate::config::MAX_ACCESS_TOKEN_TTL
                + settings.jwks_max_age
                + settings.clock_leeway,
            rotation_interval: settings.key_rotation_interval,
            jwks_max_age: settings.jwks_max_age,
            jwks_stale_while_revalidate: settings.jwks_stale_while_revalidate,
        }
    }
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
    pub async fn revoke(&self, kid: &crate::domain::Kid) -> Result<KeyRevocation, KeyRingError> {
        let rows = self.store.list_signing_keys().await?;
        let replacement = match rows.iter().find(|r| &r.kid == kid) {
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
    ) -> Result<(crate::domain::Kid, SigningAlg, KeyImport), KeyRingError> {
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
    pub fn cache_control(&self) -> String {
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
        format!("public, max-age={max_age}, stale-while-revalidate={swr}")
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

    /// The algorithm of a client's ID and logout tokens: its own when enabled, or RS256,
    /// which always is.
    pub fn id_token_alg(&self, alg: SigningAlg) -> SigningAlg {
        if self.signer(alg).is_some() {
            alg
        } else {
            SigningAlg::Rs256
        }
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
}

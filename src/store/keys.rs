//! Persistence of the key ring (book § Signing keys).

use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::StoreError;
use crate::crypto::{KeyState, SigningAlg};

/// A signing key as stored: the private key only in sealed form.
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: crate::domain::Kid,
    pub alg: SigningAlg,
    pub state: KeyState,
    pub private_sealed: Vec<u8>,
    pub public_jwk: Map<String, Value>,
    pub created_at: OffsetDateTime,
    pub activated_at: Option<OffsetDateTime>,
    pub retiring_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A freshly generated key to insert (sealed already).
#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub kid: crate::domain::Kid,
    pub alg: SigningAlg,
    pub private_sealed: Vec<u8>,
    pub public_jwk: Map<String, Value>,
}

/// Persistence of the key ring (book § Signing keys). Each method is atomic and serialized across
/// instances sharing the backend.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key that is not retired, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError>;

    /// For `alg`, inserts `active` if no key is active and `next` if none is next.
    /// Returns whether anything was inserted.
    async fn fill_missing_keys(
        &self,
        alg: SigningAlg,
        active: NewSigningKey,
        next: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Promotes `next` to `active`, moves the old `active` to `retiring` and stores
    /// `new_next`. With `due_before`, only if the active key was activated before it (the
    /// scheduled rotation: whichever instance gets there first rotates, the others see it
    /// done). Returns the kid that is now active, or `None` when not due.
    async fn rotate(
        &self,
        alg: SigningAlg,
        new_next: NewSigningKey,
        due_before: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError>;

    /// Emergency revocation (book § Signing keys): the key is retired and marked revoked at once. If it
    /// was `active`, `next` is promoted; if it was `active` or `next`, `replacement` (a key
    /// of the same algorithm, when given) becomes the new `next`.
    async fn revoke(
        &self,
        kid: &crate::domain::Kid,
        replacement: Option<NewSigningKey>,
        now: OffsetDateTime,
    ) -> Result<KeyRevocation, StoreError>;

    /// Makes an imported key the `next` key of its algorithm (it signs from the following
    /// rotation on). The `next` key it replaces never signed and is retired.
    async fn import_next(
        &self,
        key: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<KeyImport, StoreError>;

    /// A number that changes with every change to the key ring (instances poll it).
    async fn version(&self) -> Result<i64, StoreError>;
}

/// What `KeyStore::import_next` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyImport {
    /// Imported as `next`, replacing this kid (if there was a next key).
    Imported { replaced: Option<String> },
    /// A key with this kid is already stored.
    AlreadyKnown,
}

/// What `KeyStore::revoke` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRevocation {
    /// Revoked; it was in this state. `promoted` is the kid that became active, if any.
    Revoked {
        was: KeyState,
        promoted: Option<String>,
    },
    AlreadyRevoked,
    NotFound,
}

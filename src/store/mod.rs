//! Storage traits between domain logic and the backends (lldap style): a second backend
//! (the planned embedded mode) is a second `impl`, not `if`s across the code.

pub mod postgres;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::crypto::{KeyState, SigningAlg};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached now; callers answer 503 and retry later.
    #[error("{backend} unavailable")]
    Unavailable {
        backend: &'static str,
        #[source]
        source: anyhow::Error,
    },
    /// A stored row violates an invariant (e.g. an unknown state string).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A signing key as stored: the private key only in sealed form.
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: String,
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
    pub kid: String,
    pub alg: SigningAlg,
    pub private_sealed: Vec<u8>,
    pub public_jwk: Map<String, Value>,
}

/// Persistence of the key ring (SPEC S3). Each method is atomic and serialized across
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
    /// `new_next`. Returns the kid that is now active.
    async fn rotate(
        &self,
        alg: SigningAlg,
        new_next: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<String, StoreError>;
}

/// An auth or admin event for the audit trail (SPEC S10).
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub event_type: &'static str,
    pub actor: Option<String>,
    pub outcome: &'static str,
    pub detail: Value,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, event: AuditEvent, at: OffsetDateTime) -> Result<(), StoreError>;
}

/// A backend that readiness checks can ping.
#[async_trait]
pub trait Ping: Send + Sync {
    fn name(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The backends the application talks to, behind their traits.
#[derive(Clone)]
pub struct Stores {
    pub keys: Arc<dyn KeyStore>,
    pub audit: Arc<dyn AuditStore>,
    pub health: Vec<Arc<dyn Ping>>,
}

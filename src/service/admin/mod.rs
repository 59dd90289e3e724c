//! Operator actions shared by the CLI and the admin API (book § Signing keys, book § Endpoints, book § Command line): key rotation
//! and revocation, clients with server-generated secrets, users, imports with bcrypt or
//! argon2 hashes. Each change is announced to the other instances and audited with the
//! operator who made it.

use crate::store::{AuditEvent, Change, StoreError, Stores};
use crate::tokens::KeyRingError;

mod audit_trail;
mod client_patch;
mod clients;
mod import;
mod keys;
mod providers;
mod users;
pub use audit_trail::*;
pub use client_patch::*;
pub use clients::*;
pub use import::*;
pub use keys::*;
pub use providers::*;
pub use users::*;

/// Why an operator action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Bad input: the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error("no such resource")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
    #[error(transparent)]
    Hash(#[from] crate::auth::hashing::HashError),
    /// A fault of tessera's (e.g. no key could sign).
    #[error(transparent)]
    Internal(anyhow::Error),
}

pub use crate::service::audit::Operator;

async fn audit(stores: &Stores, operator: &Operator, event: AuditEvent) {
    let event = event.actor(operator.actor.clone());
    crate::service::audit::record_at(stores, event, operator.now).await;
}

async fn announce(stores: &Stores, change: Change) {
    if let Err(e) = stores.changes.publish(&change).await {
        // peers catch up through the version poll (keys) or the cache TTL (clients)
        tracing::warn!(error = %e, change = %change.to_message(), "could not announce a change; peers catch up by polling or cache expiry");
    }
}

impl From<ManageError> for crate::domain::Failure {
    fn from(e: ManageError) -> Self {
        use crate::domain::Failure;
        match e {
            ManageError::Invalid(description) => Failure::invalid("invalid_request", description),
            ManageError::NotFound => Failure::NotFound,
            ManageError::Conflict(description) => Failure::Conflict("conflict", description),
            ManageError::Store(e) => e.into(),
            ManageError::KeyRing(crate::tokens::KeyRingError::Store(e)) => e.into(),
            ManageError::KeyRing(e) => Failure::Internal(e.into()),
            ManageError::Hash(e) => e.into(),
            ManageError::Internal(e) => Failure::Internal(e),
        }
    }
}

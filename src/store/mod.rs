//! Storage traits between domain logic and the backends (lldap style), one file per
//! capability: each backend is an `impl` of them, not `if`s across the code. Two exist:
//! PostgreSQL + Redis (`postgres/`, `redis/`, a single server or a Redis Cluster, TLS to
//! both) and the embedded store (`sqlite/` and `memory/`), chosen by `connect`. Expiry is
//! decided by the application's clock, which the embedded backend is built with, or by
//! Redis's own TTLs. Every trait and type is re-exported here, so callers name `store::X`.

mod audit;
mod browser;
pub mod cache;
mod changes;
mod clients;
mod connect;
mod email_links;
mod expiry;
mod families;
mod feed;
mod health;
mod identities;
mod keys;
mod limits;
mod mfa;
mod mfa_tokens;
mod outbox;
mod passkeys;
mod providers;
mod resets;
mod revocations;
mod rewrap;
pub mod transfer;
mod users;
pub use audit::*;
pub use browser::*;
pub use changes::*;
pub use clients::*;
pub use connect::{connect, embedded, Backend, ConnectError, ConnectOptions, Migrator};
pub use email_links::*;
pub use expiry::{Expiry, Swept, SWEEP_BATCH};
pub use families::*;
pub use feed::*;
pub use health::{Checks, Ping, Readiness};
pub use identities::*;
pub use keys::*;
pub use limits::*;
pub use mfa::*;
pub use mfa_tokens::*;
pub use outbox::*;
pub use passkeys::*;
pub use providers::*;
pub use resets::*;
pub use revocations::*;
pub use rewrap::{Resealer, RewrapError, RewrapReport, SealedItem, SealedStore};
pub use users::*;

pub mod memory;
pub mod postgres;
pub mod redis;
pub mod retry;
pub mod sqlite;

use std::sync::Arc;

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

/// The backends the application talks to, behind their traits.
#[derive(Clone)]
pub struct Stores {
    pub keys: Arc<dyn KeyStore>,
    pub users: Arc<dyn UserStore>,
    pub clients: Arc<dyn ClientStore>,
    pub families: Arc<dyn FamilyStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub feed: Arc<dyn FeedStore>,
    /// Deletes what expired, where the backend does not by itself.
    pub expiry: Arc<dyn Expiry>,
    pub audit: Arc<dyn AuditStore>,
    pub changes: Arc<dyn ChangeBus>,
    pub limits: Arc<dyn LimitStore>,
    pub resets: Arc<dyn ResetStore>,
    pub email_links: Arc<dyn EmailLinkStore>,
    pub mfa: Arc<dyn MfaStore>,
    pub mfa_tokens: Arc<dyn MfaTokenStore>,
    pub passkeys: Arc<dyn PasskeyStore>,
    pub outbox: Arc<dyn OutboxStore>,
    pub providers: Arc<dyn ProviderStore>,
    pub identities: Arc<dyn IdentityStore>,
    pub sso: Arc<dyn SsoStore>,
    pub codes: Arc<dyn CodeStore>,
    pub consents: Arc<dyn ConsentStore>,
    /// Everything sealed under the KEK, for `keys rewrap`.
    pub sealed: Arc<dyn SealedStore>,
    pub health: Vec<Arc<dyn Ping>>,
}

/// A backend outage is unavailable (503, retry soon); anything else is a fault whose cause
/// goes to the log only.
impl From<StoreError> for crate::domain::Failure {
    fn from(e: StoreError) -> Self {
        match e.outage() {
            Ok(backend) => crate::domain::Failure::Unavailable(backend),
            Err(other) => crate::domain::Failure::Internal(other.into()),
        }
    }
}

impl From<StoreError> for crate::domain::OAuthError {
    fn from(e: StoreError) -> Self {
        crate::domain::Failure::from(e).into()
    }
}

impl StoreError {
    /// The backend that is down (logged here, once, with the cause), or the error itself
    /// when it is not an outage.
    pub fn outage(self) -> Result<&'static str, StoreError> {
        match self {
            StoreError::Unavailable { backend, source } => {
                tracing::warn!(
                    backend,
                    error = format!("{source:#}"),
                    "backend unavailable"
                );
                Ok(backend)
            }
            other => Err(other),
        }
    }
}

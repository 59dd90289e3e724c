//! The application state every request handler, service and background task shares
//! (book § Run the service): settings, stores, key ring, hashing pool, clock and the documents served as
//! bytes. Nothing here knows HTTP: the listeners take it as `web::Data<AppState>`.

use std::sync::Arc;

use bytes::Bytes;

use crate::auth::hashing::PasswordHasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::notify::Notifier;
use crate::store::{Readiness, Stores};
use crate::tokens::{KeyRing, VerifiedTokens};

/// Documents computed once at start-up and served as bytes.
pub struct Documents {
    pub discovery: Bytes,
    pub openapi: Bytes,
    pub admin_openapi: Bytes,
    /// `Cache-Control` of the discovery document.
    pub cache_control: String,
}

/// Shared by every worker of both listeners and by the background tasks.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub keyring: Arc<KeyRing>,
    pub stores: Stores,
    pub hasher: Arc<PasswordHasher>,
    /// Access tokens whose signature verified (see `VerifiedTokens`).
    pub verified_tokens: VerifiedTokens,
    pub clock: Arc<dyn Clock>,
    pub documents: Documents,
    /// Delivers password-reset tokens.
    pub notifier: Arc<dyn Notifier>,
    /// (client id, address) pairs over their failed-authentication allowance, with the
    /// time (Unix ms) they may try again (book § Configuration; see `service::abuse`).
    pub blocked_clients: moka::sync::Cache<String, i64>,
    /// The last `/readyz` result (backends pinged at most once a second).
    pub readiness: Readiness,
}

/// The most (client id, address) pairs remembered as blocked; beyond it the least recently
/// used are forgotten (and counted in the limit store again at their next failure).
const BLOCKED_CLIENT_PAIRS: u64 = 100_000;

impl AppState {
    /// Assembles the state from its parts; the caches are sized from the settings.
    pub fn new(
        settings: Settings,
        stores: Stores,
        keyring: KeyRing,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
        documents: Documents,
        notifier: Arc<dyn Notifier>,
    ) -> Self {
        // an entry is never needed past its limit's period (the longest retry-after)
        let blocked_ttl = settings
            .abuse
            .client_auth_failures
            .map_or(std::time::Duration::from_secs(60), |l| l.period);
        AppState {
            verified_tokens: VerifiedTokens::new(settings.verified_token_cache),
            settings: Arc::new(settings),
            keyring: Arc::new(keyring),
            stores,
            hasher: Arc::new(hasher),
            clock,
            documents,
            notifier,
            blocked_clients: moka::sync::Cache::builder()
                .max_capacity(BLOCKED_CLIENT_PAIRS)
                .time_to_live(blocked_ttl)
                .build(),
            readiness: Readiness::default(),
        }
    }
}

impl AppState {
    /// Each backend and whether it answered, pinged at most once a second (book § Endpoints).
    pub async fn backend_checks(&self) -> crate::store::Checks {
        self.readiness
            .backends(&self.stores.health, self.clock.as_ref())
            .await
    }
}

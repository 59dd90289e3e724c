//! The application state every request handler, service and background task shares
//! (book § Run the service): settings, stores, key ring, hashing pool, clock and the documents served as
//! bytes. Nothing here knows HTTP: the listeners take it as `web::Data<AppState>`.

use std::sync::Arc;

use bytes::Bytes;

use crate::auth::hashing::PasswordHasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::notify::Notifier;
use crate::service::abuse::{ClientGate, Limiter};
use crate::service::access::AccessCheck;
use crate::service::audit::Auditor;
use crate::service::grants::{TokenIssuer, TokenPolicy};
use crate::service::passwords::Passwords;
use crate::store::{Readiness, Stores};
use crate::tokens::KeyRing;

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
    /// Signs the tokens grants decide on (the key ring, the clock and the issuance policy).
    pub issuer: TokenIssuer,
    /// Writes the audit trail at the clock's time.
    pub audit: Auditor,
    pub stores: Stores,
    pub hasher: Arc<PasswordHasher>,
    /// Checks bearer access tokens (and caches those whose signature verified).
    pub access: AccessCheck,
    pub clock: Arc<dyn Clock>,
    pub documents: Documents,
    /// Delivers password-reset tokens.
    pub notifier: Arc<dyn Notifier>,
    /// Authenticates clients; remembers the (client id, address) pairs over their
    /// failed-authentication allowance.
    pub client_gate: ClientGate,
    /// Request limits and the password lockout.
    pub limiter: Limiter,
    /// Checks passwords against the users' hashes, counted toward the lockout.
    pub passwords: Passwords,
    /// The last `/readyz` result (backends pinged at most once a second).
    pub readiness: Readiness,
}

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
        let keyring = Arc::new(keyring);
        let audit = Auditor::new(stores.audit.clone(), clock.clone());
        let hasher = Arc::new(hasher);
        let limiter = Limiter::new(
            &stores,
            audit.clone(),
            clock.clone(),
            settings.abuse.clone(),
        );
        AppState {
            passwords: Passwords::new(
                stores.users.clone(),
                hasher.clone(),
                limiter.clone(),
                clock.clone(),
            ),
            limiter,
            audit,
            client_gate: ClientGate::new(
                &stores,
                clock.clone(),
                settings.abuse.client_auth_failures,
            ),
            issuer: TokenIssuer::new(
                keyring.clone(),
                clock.clone(),
                TokenPolicy::new(&settings),
                settings.kek.clone(),
            ),
            access: AccessCheck::new(keyring.clone(), &stores, clock.clone(), &settings),
            settings: Arc::new(settings),
            keyring,
            stores,
            hasher,
            clock,
            documents,
            notifier,
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

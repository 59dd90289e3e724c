//! Application assembly (SPEC S1): connect the backends, migrate, open the key ring, and
//! bind the public and admin listeners that share one `AppState`.

pub mod retry;
pub mod watch;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header::HeaderValue;
use actix_web::web::{self, Bytes};

use crate::auth::hashing::PasswordHasher;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::crypto::{KeyRing, KeyRingError};
use crate::http::{self, wellknown::DiscoveryDocument};
use crate::store::postgres::PgStore;
use crate::store::redis::RedisStore;
use crate::store::Stores;
use retry::Unreachable;

/// Documents computed once at start-up and served as bytes.
pub struct Documents {
    pub discovery: Bytes,
    pub openapi: Bytes,
    pub admin_openapi: Bytes,
    pub cache_control: HeaderValue,
}

/// Shared by every worker of both listeners.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub keyring: Arc<KeyRing>,
    pub stores: Stores,
    pub hasher: Arc<PasswordHasher>,
    /// Access tokens whose signature verified (see `VerifiedTokens`).
    pub verified_tokens: crate::tokens::VerifiedTokens,
    pub clock: Arc<dyn Clock>,
    pub documents: Documents,
    /// Delivers password-reset tokens.
    pub notifier: Arc<dyn crate::notify::Notifier>,
    /// (client id, address) pairs over their failed-authentication allowance, with the
    /// time (Unix ms) they may try again (SPEC S9; see `abuse::authenticate_client`).
    pub blocked_clients: moka::sync::Cache<String, i64>,
    /// The last `/readyz` result (backends pinged at most once a second).
    pub readiness: http::health::Readiness,
}

/// The most (client id, address) pairs remembered as blocked; beyond it the least recently
/// used are forgotten (and counted in Redis again at their next failure).
const BLOCKED_CLIENT_PAIRS: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("database migration failed: {0:#}")]
    Migration(anyhow::Error),
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
    #[error("cannot set up notifications: {0}")]
    Notifier(crate::notify::NotifyError),
    #[error("cannot start password hashing: {0}")]
    Hasher(crate::auth::hashing::HashError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

impl Stores {
    /// The production backends: Postgres for durable data, Redis for sessions; client
    /// lookups cached for `client_cache_ttl` (zero: not cached).
    pub fn new(pg: PgStore, redis: RedisStore, client_cache_ttl: std::time::Duration) -> Self {
        let pg = Arc::new(pg);
        let redis = Arc::new(redis);
        let clients: Arc<dyn crate::store::ClientStore> = if client_cache_ttl.is_zero() {
            pg.clone()
        } else {
            Arc::new(crate::store::cache::CachedClients::new(
                pg.clone(),
                client_cache_ttl,
            ))
        };
        Stores {
            keys: pg.clone(),
            users: pg.clone(),
            clients,
            families: redis.clone(),
            revocations: redis.clone(),
            audit: pg.clone(),
            changes: redis.clone(),
            limits: redis.clone(),
            resets: pg.clone(),
            mfa: pg.clone(),
            mfa_tokens: redis.clone(),
            health: vec![pg, redis],
        }
    }
}

/// The backends as the CLI and the server use them.
pub struct Backends {
    pub pg: PgStore,
}

impl Backends {
    /// Connects to Postgres (with bounded retry) and migrates when asked to.
    pub async fn postgres(settings: &Settings, migrate: bool) -> Result<Self, StartupError> {
        let pg = PgStore::connect(
            &settings.database_url,
            settings.db_pool_size,
            settings.startup_timeout,
        )
        .await?;
        if migrate {
            pg.migrate().await.map_err(StartupError::Migration)?;
        }
        Ok(Backends { pg })
    }

    /// Opens the key ring over Postgres (creating missing keys when `fill` is set).
    pub async fn keyring(
        &self,
        settings: &Settings,
        clock: Arc<dyn Clock>,
        fill: bool,
    ) -> Result<KeyRing, KeyRingError> {
        let config = crate::crypto::KeyRingConfig {
            algs: settings.signing_algs.clone(),
            rsa_bits: settings.rsa_bits,
            retire_after: settings.access_token_ttl + settings.jwks_max_age + settings.clock_leeway,
            rotation_interval: settings.key_rotation_interval,
            jwks_max_age: settings.jwks_max_age,
            jwks_stale_while_revalidate: settings.jwks_stale_while_revalidate,
        };
        let ring = KeyRing::load(
            Arc::new(self.pg.clone()),
            settings.kek.clone(),
            config,
            clock,
        )
        .await?;
        if fill {
            ring.ensure_keys().await?;
        }
        Ok(ring)
    }
}

/// The webhook when one is configured, else the log sink.
fn notifier(
    settings: &Settings,
) -> Result<Arc<dyn crate::notify::Notifier>, crate::notify::NotifyError> {
    use secrecy::ExposeSecret;
    let notify = &settings.notify;
    Ok(match &notify.webhook_url {
        Some(url) => Arc::new(crate::notify::WebhookNotifier::new(
            url.expose_secret().to_owned(),
            notify.reset_url.clone(),
        )?),
        None => Arc::new(crate::notify::LogNotifier {
            show_links: notify.log_links,
            reset_url: notify.reset_url.clone(),
        }),
    })
}

pub struct Application {
    public_port: u16,
    admin_port: u16,
    public: Server,
    admin: Server,
    state: web::Data<AppState>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let backends = Backends::postgres(&settings, settings.migrate_on_start).await?;
        let redis = RedisStore::connect(
            &settings.redis_url,
            &settings.redis_prefix,
            settings.startup_timeout,
        )
        .await?;
        let keyring = backends.keyring(&settings, clock.clone(), true).await?;
        let stores = Stores::new(backends.pg, redis.clone(), settings.client_cache_ttl);
        crate::metrics::install();
        let hasher = PasswordHasher::start(
            settings.password.hash,
            settings.hash_workers(),
            settings.password.queue,
        )
        .map_err(StartupError::Hasher)?;
        let documents = Documents {
            discovery: DiscoveryDocument::new(&settings).to_bytes(),
            openapi: Bytes::from(http::openapi::document()),
            admin_openapi: Bytes::from(http::openapi::admin_document()),
            cache_control: http::wellknown::cache_control(&settings),
        };
        let bind =
            |addr| TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source });
        let (public_listener, admin_listener) =
            (bind(settings.public_addr)?, bind(settings.admin_addr)?);
        let port = |l: &TcpListener, addr| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(|source| StartupError::Bind { addr, source })
        };
        let public_port = port(&public_listener, settings.public_addr)?;
        let admin_port = port(&admin_listener, settings.admin_addr)?;
        let (public_addr, admin_addr) = (settings.public_addr, settings.admin_addr);
        let verified_tokens = crate::tokens::VerifiedTokens::new(settings.verified_token_cache);
        let notifier = notifier(&settings).map_err(StartupError::Notifier)?;
        // an entry is never needed past its limit's period (the longest retry-after)
        let blocked_ttl = settings
            .abuse
            .client_auth_failures
            .map_or(std::time::Duration::from_secs(60), |l| l.period);
        let state = web::Data::new(AppState {
            settings: Arc::new(settings),
            keyring: Arc::new(keyring),
            stores,
            hasher: Arc::new(hasher),
            verified_tokens,
            clock,
            documents,
            notifier,
            blocked_clients: moka::sync::Cache::builder()
                .max_capacity(BLOCKED_CLIENT_PAIRS)
                .time_to_live(blocked_ttl)
                .build(),
            readiness: Default::default(),
        });
        watch::spawn(state.clone(), redis);
        let public = http::public_server(public_listener, state.clone()).map_err(|source| {
            StartupError::Bind {
                addr: public_addr,
                source,
            }
        })?;
        let admin = http::admin_server(admin_listener, state.clone()).map_err(|source| {
            StartupError::Bind {
                addr: admin_addr,
                source,
            }
        })?;
        Ok(Application {
            public_port,
            admin_port,
            public,
            admin,
            state,
        })
    }

    pub fn public_port(&self) -> u16 {
        self.public_port
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Runs both listeners until a shutdown signal (SIGINT/SIGTERM) stops them.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tracing::info!(
            public_port = self.public_port,
            admin_port = self.admin_port,
            "tessera listening"
        );
        tokio::try_join!(self.public, self.admin).map(|_| ())
    }
}

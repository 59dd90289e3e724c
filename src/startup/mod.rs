//! Application assembly (book § Run the service): connect the backends, migrate, open the key ring, and
//! bind the public and admin listeners that share one `AppState`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::web::{self, Bytes};

use crate::auth::hashing::PasswordHasher;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::http::{self, wellknown::DiscoveryDocument};
use crate::state::{AppState, Documents};
use crate::tokens::{KeyRing, KeyRingConfig, KeyRingError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Connect(#[from] crate::store::ConnectError),
    #[error("{} is in use by another tessera serve (one instance per data directory)", .0.display())]
    DataDirInUse(std::path::PathBuf),
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
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
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct Application {
    public_port: u16,
    admin_port: u16,
    public: Server,
    admin: Server,
    state: web::Data<AppState>,
    /// The embedded data directory's lock, held while the listeners run.
    _lock: Option<std::fs::File>,
}

/// One `serve` per data directory (book § Run the service): an OS lock on `<dir>/lock`, released by the
/// kernel when the process ends however it ends, so a crash leaves nothing to clean up.
fn lock_data_dir(settings: &Settings) -> Result<Option<std::fs::File>, StartupError> {
    let Some(data_dir) = &settings.data_dir else {
        return Ok(None);
    };
    let path = data_dir.dir.join("lock");
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| StartupError::Lock {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(StartupError::DataDirInUse(data_dir.dir.clone()))
        }
        Err(std::fs::TryLockError::Error(source)) => Err(StartupError::Lock { path, source }),
    }
}

/// A bound listener and its port.
fn bind(addr: SocketAddr) -> Result<(TcpListener, u16), StartupError> {
    let fail = |source| StartupError::Bind { addr, source };
    let listener = TcpListener::bind(addr).map_err(fail)?;
    let port = listener.local_addr().map_err(fail)?.port();
    Ok((listener, port))
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let lock = lock_data_dir(&settings)?;
        if let Some(data_dir) = &settings.data_dir {
            for file in &data_dir.created {
                tracing::info!(file = %file.display(), "created");
            }
            if let Some(token) = &data_dir.admin_token_file {
                tracing::info!(file = %token.display(), "the admin token is in this file");
            }
        }
        let backend = crate::store::connect((&settings).into()).await?;
        for (loud, finding) in &backend.findings {
            if *loud {
                tracing::error!(%finding, "Redis is configured to lose revocations");
            } else {
                tracing::warn!(%finding, "Redis settings");
            }
        }
        if settings.migrate_on_start {
            let applied = backend
                .migrator
                .migrate()
                .await
                .map_err(StartupError::Migration)?;
            if applied > 0 {
                tracing::info!(applied, "migrations applied");
            }
        }
        let stores = backend.stores;
        let keyring = KeyRing::load(
            stores.keys.clone(),
            settings.kek.clone(),
            KeyRingConfig::new(&settings),
            clock.clone(),
        )
        .await?;
        keyring.ensure_keys().await?;
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
        let (public_addr, admin_addr) = (settings.public_addr, settings.admin_addr);
        let (public_listener, public_port) = bind(public_addr)?;
        let (admin_listener, admin_port) = bind(admin_addr)?;
        let transports =
            crate::notify::Transports::from_settings(&settings).map_err(StartupError::Notifier)?;
        let state = Arc::new(AppState::new(
            settings, stores, keyring, hasher, clock, documents, transports,
        ));
        crate::service::watch::spawn(state.clone());
        let state = web::Data::from(state);
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
            _lock: lock,
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

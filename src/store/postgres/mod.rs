//! PostgreSQL backend (book § Run the service, book § Layout): pool, migrations (refinery, each exactly once, in a
//! transaction, serialized across instances), and the store implementations.

mod audit;
mod changes;
mod clients;
mod consents;
mod email_links;
mod identities;
mod keys;
mod mfa;
mod outbox;
mod passkeys;
mod providers;
mod resets;
mod rewrap;
mod sslmode;
pub mod tls;
mod transfer;
mod users;

use std::ops::DerefMut;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::NoTls;

use super::{Ping, StoreError};
use crate::store::retry::{retry_until, Unreachable};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Advisory lock ids (arbitrary, fixed): migrations and key-ring changes.
const MIGRATION_LOCK: i64 = 0x7465_7373_0001;
pub(crate) const KEYRING_LOCK: i64 = 0x7465_7373_0002;

/// The Postgres-backed stores.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// How to open a connection of its own (`LISTEN` needs one outside the pool).
    direct: changes::Direct,
}

/// A failed call: `Unavailable` (503, retry) when the database could not be reached or is
/// overloaded; a statement the database refused for its content is a bug, not an outage.
pub(crate) fn unavailable(e: impl Into<anyhow::Error>) -> StoreError {
    let source: anyhow::Error = e.into();
    let refused = source
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .map(|code| code.code().to_owned())
        // 08 connection, 53 resources, 57 operator intervention, 40 rollback: retryable
        .filter(|code| {
            !["08", "53", "57", "40"]
                .iter()
                .any(|class| code.starts_with(class))
        });
    match refused {
        Some(code) => {
            StoreError::Other(source.context(format!("postgres refused the statement ({code})")))
        }
        None => StoreError::Unavailable {
            backend: "postgres",
            source,
        },
    }
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

impl PgStore {
    /// Builds the pool and waits (with backoff, up to `timeout`) for a first connection.
    pub async fn connect(
        url: &SecretString,
        pool_size: usize,
        timeout: Duration,
    ) -> Result<Self, Unreachable> {
        let invalid = |e: String| Unreachable::new("PostgreSQL", format!("DATABASE_URL: {e}"));
        let split = tls::split(url.expose_secret()).map_err(invalid)?;
        if let Some(warning) = split.transport_warning() {
            tracing::warn!("{warning}");
        }
        let config = tokio_postgres::Config::from_str(&split.url)
            .map_err(|_| invalid("is not a valid PostgreSQL URL".into()))?;
        let endpoint = describe(&config);
        let mut config = config;
        config.connect_timeout(Duration::from_secs(5));
        config.ssl_mode(split.mode.driver());
        let recycling = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let tls = tls::client_config(split.mode, split.root_cert.as_deref())
            .map_err(invalid)?
            .map(|rustls| tls::MakeRustls(Arc::new(rustls)));
        let direct = changes::Direct {
            config: config.clone(),
            tls: tls.clone(),
        };
        let manager = match tls {
            None => Manager::from_config(config, NoTls, recycling()),
            Some(tls) => Manager::from_config(config, tls, recycling()),
        };
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| Unreachable::new("PostgreSQL", e.to_string()))?;
        retry_until("PostgreSQL", &endpoint, timeout, || {
            let pool = pool.clone();
            // the whole chain: "error performing TLS handshake" alone does not say why
            async move { pool.get().await.map(drop).map_err(|e| error_chain(&e)) }
        })
        .await?;
        Ok(PgStore { pool, direct })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }
}

#[async_trait]
impl crate::store::Migrator for PgStore {
    async fn migrate(&self) -> anyhow::Result<usize> {
        use anyhow::Context;
        let mut conn = self
            .pool
            .get()
            .await
            .context("failed to get a connection for migrations")?;
        conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .context("failed to take the migration lock")?;
        let report = embedded::migrations::runner()
            .set_grouped(false)
            .run_async(conn.deref_mut().deref_mut())
            .await;
        let unlock = conn
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await;
        let report = report.context("failed to apply migrations")?;
        unlock.context("failed to release the migration lock")?;
        Ok(report.applied_migrations().len())
    }
}

/// `host:port/db` for messages: never the password.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config.get_hosts().first().map_or_else(
        || "localhost".to_owned(),
        |h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        },
    );
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{}",
        config.get_dbname().unwrap_or("postgres")
    )
}

#[async_trait]
impl Ping for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(unavailable)?;
        Ok(())
    }
}

//! Opening the backends the settings name (book § Run the service): one call gives every store behind its
//! trait and the migrator of the durable store, so callers never name a backend type.

use std::io::{Seek, Write};
use std::sync::Arc;

use async_trait::async_trait;

use super::cache::CachedClients;
use super::memory::{LocalChanges, MemoryLimits, MemoryMfaTokens};
use super::postgres::PgStore;
use super::redis::RedisStore;
use super::retry::Unreachable;
use super::sqlite::SqliteStore;
use super::transfer::{Row, Rows, Sink, Transfer, TransferError};
use super::{ClientStore, StoreError, Stores};
use crate::config::{Settings, StoreSettings};

/// Brings the durable store's schema up to date.
#[async_trait]
pub trait Migrator: Send + Sync {
    /// Applies pending migrations; returns how many were applied.
    async fn migrate(&self) -> anyhow::Result<usize>;
}

/// The connected stores and the migrator of their schema.
pub struct Backend {
    pub stores: Stores,
    pub migrator: Arc<dyn Migrator>,
    /// `tessera export` / `import`.
    pub transfer: Arc<dyn Transfer>,
    /// What is wrong with the backends' own settings (Redis eviction or persistence):
    /// `(loud, message)`, logged by `serve` at start.
    pub findings: Vec<(bool, String)>,
}

/// Why the backends could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("cannot open the embedded store {path}: {source}")]
    Embedded {
        path: std::path::PathBuf,
        source: StoreError,
    },
}

/// The store's part of the settings: all that opening the backends reads.
#[derive(Clone, Copy)]
pub struct ConnectOptions<'a> {
    /// The embedded store or PostgreSQL + Redis, with their addresses.
    pub backend: &'a StoreSettings,
    /// PostgreSQL connections (the embedded store opens at most 8).
    pub pool_size: usize,
    /// How long connecting is retried before start-up fails.
    pub startup_timeout: std::time::Duration,
    /// Prefix of every Redis key.
    pub redis_prefix: &'a str,
    /// How long a client lookup is cached (zero: not cached).
    pub client_cache_ttl: std::time::Duration,
}

impl<'a> From<&'a Settings> for ConnectOptions<'a> {
    fn from(settings: &'a Settings) -> Self {
        ConnectOptions {
            backend: &settings.store,
            pool_size: settings.db_pool_size,
            startup_timeout: settings.startup_timeout,
            redis_prefix: &settings.redis_prefix,
            client_cache_ttl: settings.client_cache_ttl,
        }
    }
}

/// Connects to every backend the options name, each with bounded retry
/// (`TESSERA_STARTUP_TIMEOUT`); migrates nothing. Client lookups are cached for
/// `TESSERA_CLIENT_CACHE_TTL` (zero: not cached).
pub async fn connect(options: ConnectOptions<'_>) -> Result<Backend, ConnectError> {
    let (database_url, redis_url, redis_cluster, redis_ca) = match options.backend {
        StoreSettings::External {
            database_url,
            redis_url,
            redis_cluster,
            redis_ca,
        } => (database_url, redis_url, *redis_cluster, redis_ca.as_deref()),
        StoreSettings::Embedded { data_dir } => {
            let path = data_dir.join(crate::config::DATABASE_FILE);
            let pool = options.pool_size.min(8);
            return embedded(&path, pool, options.client_cache_ttl)
                .await
                .map_err(|source| ConnectError::Embedded { path, source });
        }
    };
    let pg = PgStore::connect(database_url, options.pool_size, options.startup_timeout).await?;
    let redis = RedisStore::connect(
        redis_url,
        redis_cluster,
        redis_ca,
        options.redis_prefix,
        options.startup_timeout,
    )
    .await?;
    let findings = match redis.check_settings().await {
        Ok(Some(findings)) => findings,
        Ok(None) => vec![(false, "Redis does not allow CONFIG GET: its eviction policy and persistence were not checked (tessera needs maxmemory-policy noeviction and appendonly yes)".to_owned())],
        Err(e) => vec![(false, format!("Redis settings could not be read: {e}"))],
    };
    let (pg, redis) = (Arc::new(pg), Arc::new(redis));
    Ok(Backend {
        stores: postgres_and_redis(pg.clone(), redis.clone(), options.client_cache_ttl),
        migrator: pg.clone(),
        transfer: Arc::new(PgAndRedis { pg, redis }),
        findings,
    })
}

/// The embedded backend on the database file `path` (book § Run the service): SQLite for everything
/// durable, sessions and revocations included; process memory for rate limits, lockout
/// counters, pending MFA logins and change notifications.
pub async fn embedded(
    path: &std::path::Path,
    pool_size: usize,
    client_cache_ttl: std::time::Duration,
) -> Result<Backend, StoreError> {
    let db = Arc::new(SqliteStore::open(path, pool_size).await?);
    let stores = Stores {
        keys: db.clone(),
        users: db.clone(),
        clients: cached(db.clone(), client_cache_ttl),
        families: db.clone(),
        revocations: db.clone(),
        feed: db.clone(),
        expiry: db.clone(),
        audit: db.clone(),
        changes: Arc::new(LocalChanges::default()),
        limits: Arc::new(MemoryLimits::default()),
        resets: db.clone(),
        email_links: db.clone(),
        providers: db.clone(),
        mfa: db.clone(),
        mfa_tokens: Arc::new(MemoryMfaTokens::default()),
        passkeys: db.clone(),
        identities: db.clone(),
        outbox: db.clone(),
        sso: db.clone(),
        codes: db.clone(),
        consents: db.clone(),
        sealed: db.clone(),
        health: vec![db.clone()],
    };
    Ok(Backend {
        stores,
        migrator: db.clone(),
        transfer: db,
        findings: Vec::new(),
    })
}

/// Client lookups cached for `ttl` (zero: not cached).
fn cached(clients: Arc<dyn ClientStore>, ttl: std::time::Duration) -> Arc<dyn ClientStore> {
    if ttl.is_zero() {
        clients
    } else {
        Arc::new(CachedClients::new(clients, ttl))
    }
}

/// Postgres for durable data and change notifications, Redis for sessions and limits.
fn postgres_and_redis(
    pg: Arc<PgStore>,
    redis: Arc<RedisStore>,
    client_cache_ttl: std::time::Duration,
) -> Stores {
    let clients = cached(pg.clone(), client_cache_ttl);
    Stores {
        keys: pg.clone(),
        users: pg.clone(),
        clients,
        families: redis.clone(),
        revocations: redis.clone(),
        feed: redis.clone(),
        // Redis keys carry TTLs; PostgreSQL's expiring rows are the reset links
        expiry: pg.clone(),
        audit: pg.clone(),
        // LISTEN/NOTIFY: the same channel whether Redis is one server or a cluster
        changes: pg.clone(),
        limits: redis.clone(),
        resets: pg.clone(),
        email_links: pg.clone(),
        providers: pg.clone(),
        mfa: pg.clone(),
        mfa_tokens: redis.clone(),
        passkeys: pg.clone(),
        identities: pg.clone(),
        outbox: pg.clone(),
        sso: redis.clone(),
        codes: redis.clone(),
        consents: pg.clone(),
        sealed: pg.clone(),
        health: vec![pg, redis],
    }
}

/// Export and import across both stores: the durable tables in Postgres, the session
/// state in Redis.
struct PgAndRedis {
    pg: Arc<PgStore>,
    redis: Arc<RedisStore>,
}

#[async_trait]
impl Transfer for PgAndRedis {
    async fn export(
        &self,
        now: time::OffsetDateTime,
        sink: &mut Sink<'_>,
    ) -> Result<u64, TransferError> {
        let durable = self.pg.export_durable(sink).await?;
        Ok(durable + self.redis.export_sessions(now, sink).await?)
    }

    async fn holdings(&self) -> Result<Vec<String>, StoreError> {
        let mut found = self.pg.durable_holdings().await?;
        found.extend(self.redis.session_holdings().await?);
        Ok(found)
    }

    /// The rows go in a batch at a time: the durable ones into one Postgres transaction,
    /// uncommitted; the session ones into Redis, each key noted first in an unnamed
    /// temporary file; then the commit. Any failure, the commit's included, rolls Postgres
    /// back and removes the keys Redis took.
    async fn import(&self, rows: Rows, now: time::OffsetDateTime) -> Result<(), TransferError> {
        let mut client = self.pg.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(super::postgres::unavailable)?;
        let spool = tempfile::tempfile().map_err(|e| {
            TransferError::Refused(format!("cannot create a temporary file (TMPDIR): {e}"))
        })?;
        let mut written = std::io::BufWriter::new(spool);
        let outcome = match self.write_import(&tx, rows, now, &mut written).await {
            Ok(()) => tx
                .commit()
                .await
                .map_err(|e| super::postgres::unavailable(e).into()),
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            let mut keys = written.into_inner().map_err(|e| e.into_error())?;
            keys.seek(std::io::SeekFrom::Start(0))?;
            self.redis.remove(std::io::BufReader::new(keys)).await?;
        }
        outcome
    }
}

/// Rows an import writes with one statement or pipeline (a Postgres statement takes at
/// most 65,535 parameters).
const IMPORT_BATCH: usize = 1000;

impl PgAndRedis {
    /// Every row, in batches of one table; the keys Redis takes are noted in `written`.
    async fn write_import(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        rows: Rows,
        now: time::OffsetDateTime,
        written: &mut (dyn Write + Send),
    ) -> Result<(), TransferError> {
        let mut note = |key: &str| writeln!(written, "{key}");
        PgStore::start_import(tx).await?;
        let mut batch: Vec<Row> = Vec::with_capacity(IMPORT_BATCH);
        let mut rows = rows.peekable();
        while let Some(row) = rows.next() {
            batch.push(row?);
            let table = batch[0].table;
            let full = batch.len() >= IMPORT_BATCH;
            let table_ends =
                !matches!(rows.peek(), Some(Ok(next)) if next.table.name == table.name);
            if full || table_ends {
                if table.session_state {
                    self.redis.import_sessions(&batch, now, &mut note).await?;
                } else {
                    PgStore::import_rows(tx, &batch).await?;
                }
                batch.clear();
            }
        }
        PgStore::finish_import(tx).await?;
        self.redis.import_epoch(&mut note).await
    }
}

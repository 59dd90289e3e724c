//! The embedded store (book § Run the service): one SQLite file (WAL, `synchronous=NORMAL`, a busy
//! timeout) holding everything PostgreSQL holds plus the refresh families, the JTI
//! blocklist and per-user cut-offs, so sessions and revocations survive a restart. Calls
//! run on a deadpool pool of connections (`pool.rs`), each on a blocking thread.

mod audit;
mod browser;
mod clients;
mod codes;
mod epoch;
mod families;
mod feed;
mod keys;
mod mfa;
mod pool;
mod resets;
mod revocations;
mod rewrap;
mod transfer;
mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use pool::Pool;
use rusqlite::Connection;
use time::OffsetDateTime;

use super::{Migrator, Ping, StoreError};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// How many writes between two sweeps of expired sessions, blocklist entries and cut-offs.
const SWEEP_EVERY: u64 = 512;

/// The SQLite-backed stores.
pub struct SqliteStore {
    pool: Pool,
    path: PathBuf,
    /// Writes so far, to pace the sweep of expired rows. Expiry is decided against the
    /// `now` each call is given (the application's clock), so a test that advances a
    /// `FixedClock` expires sessions, codes and blocklist entries without waiting.
    writes: AtomicU64,
}

/// A failed call: busy or locked past the timeout, full or read-only is an outage (503,
/// retry); anything else is a bug or corruption, not an outage.
pub(crate) fn failed(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, ReadOnly, SystemIoFailure};
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked | DiskFull | ReadOnly | SystemIoFailure) => {
            StoreError::Unavailable {
                backend: "sqlite",
                source: e.into(),
            }
        }
        _ => StoreError::Other(anyhow::Error::new(e).context("sqlite refused the statement")),
    }
}

impl SqliteStore {
    /// Opens (creating if absent) the database file at `path` with `pool_size` connections.
    pub async fn open(path: &Path, pool_size: usize) -> Result<Self, StoreError> {
        check_is_ours(path.to_owned()).await?;
        let pool = pool::pool(path.to_owned(), pool_size.max(2))
            .map_err(|e| StoreError::Other(e.into()))?;
        let store = SqliteStore {
            pool,
            path: path.to_owned(),
            writes: AtomicU64::new(0),
        };
        store
            .run(|c| c.query_row("SELECT 1", [], |_| Ok(())))
            .await?;
        Ok(store)
    }

    /// Writes a consistent, standalone copy of the database to `target` (which must not
    /// exist) while other connections keep reading and writing (`VACUUM INTO`). The copy
    /// holds password hashes and sealed keys: it is created `0600` before a byte is
    /// written (SQLite would create it under the umask, usually world-readable), and it
    /// gets a store epoch of its own, so that restoring it makes verifiers start over
    /// (book § Verifying tokens in other services).
    pub async fn backup(&self, target: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(|e| {
                StoreError::Other(anyhow::anyhow!("cannot create the backup file: {e}"))
            })?;
        let path = target.to_path_buf();
        let copied = self
            .run(move |c| {
                // VACUUM INTO writes into an existing file only while it is empty
                c.execute("VACUUM INTO ?1", [path.display().to_string()])?;
                epoch::renew(&Connection::open(&path)?)
            })
            .await;
        if copied.is_err() {
            let _ = std::fs::remove_file(target);
        }
        copied
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled connection, on a blocking thread.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.pool.get().await.map_err(|e| StoreError::Unavailable {
            backend: "sqlite",
            source: anyhow::anyhow!("no connection: {e}"),
        })?;
        conn.interact(f)
            .await
            .map_err(|e| StoreError::Other(anyhow::anyhow!("sqlite call failed: {e}")))?
            .map_err(failed)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (the write lock is taken first, so
    /// two writers never deadlock upgrading a read), committed if `f` succeeds.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.transaction(None, f).await
    }

    /// [`write`](Self::write) for a caller that knows the time: one such write in
    /// `SWEEP_EVERY` also deletes the rows expired at `now`, in the same transaction.
    pub(crate) async fn write_at<T: Send + 'static>(
        &self,
        now: OffsetDateTime,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let sweep = self
            .writes
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
            .then_some(now);
        self.transaction(sweep, f).await
    }

    async fn transaction<T: Send + 'static>(
        &self,
        sweep: Option<OffsetDateTime>,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if let Some(now) = sweep {
                sweep_expired(&tx, now)?;
            }
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }
}

/// Refuses a file that is not a SQLite database, or a database of something else, before
/// any connection changes it: tessera never initialises over data it did not write.
async fn check_is_ours(path: PathBuf) -> Result<(), StoreError> {
    let shown = path.display().to_string();
    let counts = tokio::task::spawn_blocking(move || {
        let c = Connection::open(&path)?;
        // the owner only: SQLite gives its -wal and -shm files the same mode
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok::<_, rusqlite::Error>((
            count("SELECT count(*) FROM sqlite_master WHERE type = 'table'")?,
            count("SELECT count(*) FROM sqlite_master WHERE name = 'refinery_schema_history'")?,
        ))
    })
    .await
    .map_err(|e| StoreError::Other(e.into()))?;
    match counts {
        Ok((tables, ours)) if tables > 0 && ours == 0 => Err(StoreError::Corrupt(format!(
            "{shown} is not a tessera database (it holds other tables); refusing to initialise over it"
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(StoreError::Corrupt(format!(
            "{shown} is not a usable SQLite database ({e}); refusing to initialise over it"
        ))),
    }
}

/// An error of tessera's own raised inside a blocking call (it rolls the transaction back).
pub(crate) fn refusal(message: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(message.into())
}

/// Drops what Redis would have expired by itself.
fn sweep_expired(tx: &rusqlite::Transaction, at: OffsetDateTime) -> rusqlite::Result<()> {
    let (now, secs) = (micros(at), at.unix_timestamp());
    tx.execute(
        "DELETE FROM refresh_families WHERE expires_at <= ?1 OR abs_exp <= ?2",
        [now, secs],
    )?;
    tx.execute("DELETE FROM jti_blocklist WHERE expires_at <= ?1", [now])?;
    tx.execute("DELETE FROM user_cutoffs WHERE expires_at <= ?1", [now])?;
    tx.execute("DELETE FROM sso_sessions WHERE expires_at <= ?1", [now])?;
    tx.execute(
        "DELETE FROM authorization_codes WHERE expires_at <= ?1",
        [now],
    )?;
    Ok(())
}

/// Unix microseconds, as the schema stores times.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `now + span` in Unix microseconds.
pub(crate) fn micros_after(at: OffsetDateTime, span: std::time::Duration) -> i64 {
    micros(at).saturating_add(i64::try_from(span.as_micros()).unwrap_or(i64::MAX))
}

/// A JSON list stored as TEXT.
pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn parse_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("not a JSON list: {text}")))
}

pub(crate) fn user_id_of(text: &str) -> Result<crate::domain::UserId, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("not a UUID: {text}")))
}

#[async_trait]
impl Migrator for SqliteStore {
    async fn migrate(&self) -> anyhow::Result<usize> {
        let conn = self.pool.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let report = conn
            .interact(|c| embedded::migrations::runner().set_grouped(true).run(c))
            .await
            .map_err(|e| anyhow::anyhow!("migration call failed: {e}"))??;
        Ok(report.applied_migrations().len())
    }
}

#[async_trait]
impl Ping for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
}

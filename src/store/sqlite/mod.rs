//! The embedded store (book § Run the service): one SQLite file (WAL, `synchronous=NORMAL`, a busy
//! timeout) holding everything PostgreSQL holds plus the refresh families, the JTI
//! blocklist and per-user cut-offs, so sessions and revocations survive a restart. Calls
//! run on deadpool pools of connections (`pool.rs`), each on a blocking thread: the
//! writers' pool, and a pool of readers that see the file through a memory map.

mod audit;
mod browser;
mod clients;
mod codes;
mod email_links;
mod epoch;
mod families;
mod feed;
mod identities;
mod keys;
mod mfa;
mod outbox;
mod passkeys;
mod pool;
mod providers;
mod resets;
mod revocations;
mod rewrap;
mod transfer;
mod users;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use pool::Pool;
use rusqlite::Connection;
use time::OffsetDateTime;

use super::{Expiry, Migrator, Ping, StoreError, Swept, SWEEP_BATCH};
use crate::domain::UserId;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// The SQLite-backed stores: connections that write (and read within their writes), and
/// as many that only read, with the file memory-mapped (`pool.rs`).
pub struct SqliteStore {
    pool: Pool,
    readers: Pool,
    path: PathBuf,
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
        let pool = pool::pool(path.to_owned(), pool_size.max(2), false)
            .map_err(|e| StoreError::Other(e.into()))?;
        let readers = pool::pool(path.to_owned(), pool_size.max(2), true)
            .map_err(|e| StoreError::Other(e.into()))?;
        let store = SqliteStore {
            pool,
            readers,
            path: path.to_owned(),
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
        call(&self.pool, f).await
    }

    /// Runs `f`, which only reads, on a reader connection (the file memory-mapped).
    pub(crate) async fn read_only<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        call(&self.readers, f).await
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction (the write lock is taken first, so
    /// two writers never deadlock upgrading a read), committed if `f` succeeds.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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

/// Runs `f` on a connection of `pool`, on a blocking thread.
async fn call<T: Send + 'static>(
    pool: &Pool,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    let conn = pool.get().await.map_err(|e| StoreError::Unavailable {
        backend: "sqlite",
        source: anyhow::anyhow!("no connection: {e}"),
    })?;
    conn.interact(f)
        .await
        .map_err(|e| StoreError::Other(anyhow::anyhow!("sqlite call failed: {e}")))?
        .map_err(failed)
}

/// An error of tessera's own raised inside a blocking call (it rolls the transaction back).
pub(crate) fn refusal(message: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(message.into())
}

/// Every kind of row that expires: its table, key and expiry column, and the expiry's
/// unit (the absolute expiry of a session is in seconds, every other in microseconds).
const EXPIRING: [(&str, &str, &str, TimeUnit); 8] = [
    ("refresh_families", "id", "expires_at", TimeUnit::Micros),
    ("refresh_families", "id", "abs_exp", TimeUnit::Secs),
    ("jti_blocklist", "jti", "expires_at", TimeUnit::Micros),
    ("user_cutoffs", "user_id", "expires_at", TimeUnit::Micros),
    ("sso_sessions", "id", "expires_at", TimeUnit::Micros),
    (
        "authorization_codes",
        "digest",
        "expires_at",
        TimeUnit::Micros,
    ),
    (
        "password_resets",
        "token_sha256",
        "expires_at",
        TimeUnit::Micros,
    ),
    (
        "email_links",
        "token_sha256",
        "expires_at",
        TimeUnit::Micros,
    ),
];

#[derive(Clone, Copy)]
enum TimeUnit {
    Secs,
    Micros,
}

/// Drops what Redis would have expired by itself, and expired reset links: up to
/// `SWEEP_BATCH` rows of each kind, each found through an index on its expiry (V6, V7, V10), so
/// a sweep costs what it deletes.
fn sweep_expired(tx: &rusqlite::Transaction, at: OffsetDateTime) -> rusqlite::Result<Swept> {
    let mut swept = Swept::default();
    for (table, key, expiry, unit) in EXPIRING {
        let value = match unit {
            TimeUnit::Secs => at.unix_timestamp(),
            TimeUnit::Micros => micros(at),
        };
        let deleted = tx.execute(
            &format!(
                "DELETE FROM {table} WHERE {key} IN \
                 (SELECT {key} FROM {table} WHERE {expiry} <= ?1 LIMIT {SWEEP_BATCH})"
            ),
            [value],
        )?;
        swept.rows += deleted as u64;
        swept.more |= deleted == SWEEP_BATCH;
    }
    Ok(swept)
}

#[async_trait]
impl Expiry for SqliteStore {
    async fn sweep(&self, now: OffsetDateTime) -> Result<Swept, StoreError> {
        self.write(move |tx| sweep_expired(tx, now)).await
    }
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

pub(crate) fn user_id_of(text: &str) -> Result<UserId, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sweep_reads_only_what_it_deletes_and_deletes_at_most_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), 2)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (past, future) = (micros(at) - 1, micros(at) + 1_000_000);
        store
            .write(move |tx| {
                let mut insert =
                    tx.prepare("INSERT INTO jti_blocklist (jti, expires_at) VALUES (?1, ?2)")?;
                for i in 0..2_500 {
                    insert.execute(rusqlite::params![format!("gone-{i}"), past])?;
                }
                for i in 0..10 {
                    insert.execute(rusqlite::params![format!("live-{i}"), future])?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let count = || {
            store.run(|c| {
                c.query_row("SELECT count(*) FROM jti_blocklist", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
        };
        let swept = store.sweep(at).await.unwrap();
        assert_eq!(
            swept,
            Swept {
                rows: 1_000,
                more: true
            }
        );
        assert_eq!(count().await.unwrap(), 1_510, "one batch of 1,000 gone");
        assert_eq!(store.sweep(at).await.unwrap().rows, 1_000);
        assert_eq!(
            store.sweep(at).await.unwrap(),
            Swept {
                rows: 500,
                more: false
            }
        );
        assert_eq!(count().await.unwrap(), 10, "the live entries stay");
        assert_eq!(store.sweep(at).await.unwrap(), Swept::default());

        // every expiry the sweep selects by is found through an index, not a table scan
        for (table, _, expiry, _) in EXPIRING {
            let plan = store
                .run(move |c| {
                    let sql = format!(
                        "EXPLAIN QUERY PLAN SELECT 1 FROM {table} WHERE {expiry} <= 5 LIMIT 1000"
                    );
                    let mut stmt = c.prepare(&sql)?;
                    let rows = stmt.query_map([], |r| r.get::<_, String>(3))?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()
                })
                .await
                .unwrap()
                .join("; ");
            assert!(
                plan.contains("USING") && plan.contains("INDEX"),
                "{table}.{expiry}: {plan}"
            );
        }
    }
}

//! The connection pool of the embedded store: deadpool, like the Postgres pool, with a
//! manager of our own. deadpool-sqlite's manager checks every connection out with a
//! `SELECT` on a blocking thread before the caller's call runs there too: two thread hops
//! per store call. A connection to a local file does not go stale the way a network
//! connection does; one whose call panicked (its mutex poisoned) is dropped instead.

use std::path::PathBuf;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool::Runtime;
use deadpool_sync::SyncWrapper;
use rusqlite::Connection;

/// Every connection's settings: WAL, `synchronous=NORMAL` (durable at each checkpoint, and
/// never corrupt), a busy timeout instead of an immediate `SQLITE_BUSY`, foreign keys.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// What a reader connection adds: the file read through a memory map (up to SQLite's limit
/// here, 2 GiB), so the pages a read touches are the kernel's page cache, shared by every
/// connection, instead of copies into each connection's 2 MiB page cache, which a
/// million-user file does not fit (BENCHMARKS.md, the ladder). Only readers: on the
/// connections that write, the map made every refresh rotation about 20 % dearer.
const READER_PRAGMAS: &str = "PRAGMA mmap_size = 2147418112;";

#[derive(Debug)]
pub(crate) struct Manager {
    path: PathBuf,
    /// A reader connection (`READER_PRAGMAS`).
    reader: bool,
}

impl managed::Manager for Manager {
    type Type = SyncWrapper<Connection>;
    type Error = rusqlite::Error;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let (path, reader) = (self.path.clone(), self.reader);
        SyncWrapper::new(Runtime::Tokio1, move || {
            let connection = Connection::open(path)?;
            connection.execute_batch(PRAGMAS)?;
            if reader {
                connection.execute_batch(READER_PRAGMAS)?;
            }
            Ok(connection)
        })
        .await
    }

    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        if conn.is_mutex_poisoned() {
            return Err(RecycleError::message("a call panicked on this connection"));
        }
        Ok(())
    }
}

pub(crate) type Pool = managed::Pool<Manager>;

/// A pool of up to `size` connections to the database file at `path`; `reader`: for
/// reads only (`READER_PRAGMAS`).
pub(crate) fn pool(path: PathBuf, size: usize, reader: bool) -> Result<Pool, managed::BuildError> {
    Pool::builder(Manager { path, reader })
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .build()
}

//! Backends for one test. On Postgres + Redis: its own database, cloned from a migrated
//! template built once per migration set (across processes), and its own Redis key prefix;
//! both dropped after. Embedded: a data directory of its own, removed after. Postgres or
//! Redis missing is a loud failure that says how to start them, never a skip.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

pub fn test_kek() -> String {
    STANDARD.encode(Sha256::digest(b"tessera test kek"))
}

pub const ADMIN_TOKEN: &str = "test-admin-token-5c1f0e7a9b2d4c6e8f0a1b3c5d7e9f";

pub fn admin_tokens_setting() -> String {
    format!(
        "ops:{}",
        hex::encode(Sha256::digest(ADMIN_TOKEN.as_bytes()))
    )
}

pub fn pg_base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

const START_HINT: &str = "start it with `bash scripts/services` (or: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no), or point TEST_DATABASE_URL / TEST_REDIS_URL at running servers";

async fn admin_connection() -> tokio_postgres::Client {
    let url = format!("{}/postgres", pg_base_url());
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable at {url}: {e}. The tests need it: {START_HINT}")
        });
    tokio::spawn(connection);
    client
}

/// Name of the template for the current migration files (a change makes a new one).
fn template_name() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.file_name().unwrap().to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).unwrap());
    }
    format!("tessera_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

const TEMPLATE_LOCK: i64 = 0x7465_7374_0001;

async fn ensure_template(admin: &tokio_postgres::Client) -> String {
    let name = template_name();
    admin
        .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
        .await
        .unwrap();
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("tessera_tplbuild_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .unwrap();
        let url = format!("{}/{building}", pg_base_url());
        let store = tessera::store::postgres::PgStore::connect(
            &url.into(),
            1,
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
        tessera::store::Migrator::migrate(&store).await.unwrap();
        drop(store);
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&building],
            )
            .await
            .unwrap();
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .unwrap();
    }
    admin
        .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
        .await
        .unwrap();
    name
}

/// The two store backends every API test that is not about Redis or several instances
/// runs against (`#[apply(backends)]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL + Redis: the production and many-instances mode.
    Postgres,
    /// One SQLite file in a data directory plus in-process limits (book § Run the service).
    Embedded,
}

/// Runs a test once per backend: `#[apply(backends)] #[tokio::test] async fn t(backend: Backend)`.
#[rstest_reuse::template]
#[rstest::rstest]
#[case::postgres(Backend::Postgres)]
#[case::embedded(Backend::Embedded)]
pub fn backends(#[case] backend: Backend) {}

/// A directory of its own, removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The stores of one test, dropped (database, Redis keys or data directory) when it ends.
pub enum TestDb {
    Postgres(PgDb),
    Embedded(TempDir),
}

/// A Postgres database and a Redis key prefix of one test's own.
pub struct PgDb {
    pub name: String,
    pub redis_prefix: String,
}

impl TestDb {
    /// Postgres + Redis, for the tests that are about them or about several instances.
    pub async fn new() -> Self {
        Self::on(Backend::Postgres).await
    }

    pub async fn on(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => TestDb::Postgres(PgDb::new().await),
            Backend::Embedded => TestDb::Embedded(TempDir::new()),
        }
    }

    fn pg(&self) -> &PgDb {
        match self {
            TestDb::Postgres(pg) => pg,
            TestDb::Embedded(_) => {
                panic!(
                    "this test reads Postgres or Redis directly: run it on Backend::Postgres only"
                )
            }
        }
    }

    /// The settings (lower-case keys) that point an app at these stores.
    pub fn store_settings(&self) -> Vec<(&'static str, String)> {
        match self {
            TestDb::Postgres(pg) => vec![
                ("database_url", self.url()),
                ("redis_url", redis_url()),
                ("redis_prefix", pg.redis_prefix.clone()),
            ],
            TestDb::Embedded(dir) => vec![("data_dir", dir.0.display().to_string())],
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", pg_base_url(), self.pg().name)
    }

    pub fn redis_prefix(&self) -> &str {
        &self.pg().redis_prefix
    }

    /// A plain connection for assertions on what was stored.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// How many rows `table` holds, read from the backend's own database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match self {
            TestDb::Postgres(_) => self
                .connect()
                .await
                .query_one(&sql, &[])
                .await
                .unwrap()
                .get(0),
            TestDb::Embedded(dir) => {
                let file = dir.0.join(tessera::config::DATABASE_FILE);
                let db = rusqlite::Connection::open(file).unwrap();
                db.query_row(&sql, [], |row| row.get(0)).unwrap()
            }
        }
    }

    /// Drops the database now (to simulate losing it mid-test).
    pub async fn drop_now(&self) {
        let admin = admin_connection().await;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.pg().name
            ))
            .await
            .unwrap();
    }
}

impl PgDb {
    async fn new() -> Self {
        let admin = admin_connection().await;
        let template = ensure_template(&admin).await;
        let name = format!("tessera_t_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .unwrap();
        let redis_prefix = format!("tt:{}:", uuid::Uuid::new_v4().simple());
        let client = redis::Client::open(redis_url()).unwrap();
        client
            .get_multiplexed_tokio_connection()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "Redis is not reachable at {}: {e}. The tests need it: {START_HINT}",
                    redis_url()
                )
            });
        PgDb { name, redis_prefix }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (name, prefix) = (self.name.clone(), self.redis_prefix.clone());
        // Drop runs inside the test's runtime: clean up from a thread with its own
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let admin = admin_connection().await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
            if let Ok(mut conn) = redis::Client::open(redis_url()).and_then(|c| c.get_connection())
            {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query(&mut conn)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
                }
            }
        })
        .join();
    }
}

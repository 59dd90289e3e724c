//! Test harness: every test gets its own database (cloned from a migrated template built
//! once per migration set, across processes) and its own Redis key prefix, and the real
//! server on port 0. Postgres or Redis missing is a loud failure, never a skip.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use tessera::clock::{Clock, SystemClock};
use tessera::config::Settings;
use tessera::startup::{Application, StartupError};
use tessera::state::AppState;
use tokio_postgres::NoTls;

/// A fixed, random-looking KEK for tests.
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

fn pg_base_url() -> String {
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
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
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

/// A database of its own, dropped (with its Redis keys) when the test ends.
pub struct TestDb {
    pub name: String,
    pub redis_prefix: String,
}

impl TestDb {
    pub async fn new() -> Self {
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
        TestDb { name, redis_prefix }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", pg_base_url(), self.name)
    }

    /// A plain connection for assertions on what was stored.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// Drops the database now (to simulate losing it mid-test).
    pub async fn drop_now(&self) {
        let admin = admin_connection().await;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

impl Drop for TestDb {
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

/// Settings for a test app on `db`, with `overrides` applied last.
pub fn test_settings(db: &TestDb, overrides: &[(&str, &str)]) -> Settings {
    let (url, kek, admin, redis) = (db.url(), test_kek(), admin_tokens_setting(), redis_url());
    let mut pairs: Vec<(&str, &str)> = vec![
        ("issuer", "http://127.0.0.1:8080"),
        ("public_addr", "127.0.0.1:0"),
        ("admin_addr", "127.0.0.1:0"),
        ("database_url", &url),
        ("redis_url", &redis),
        ("redis_prefix", &db.redis_prefix),
        ("kek", &kek),
        ("admin_tokens", &admin),
        ("http_workers", "1"),
        ("db_pool_size", "4"),
        ("startup_timeout", "5"),
    ];
    for (k, v) in overrides {
        pairs.retain(|(existing, _)| existing != k);
        pairs.push((k, v));
    }
    Settings::from_pairs(pairs).unwrap_or_else(|e| panic!("test settings invalid: {e}"))
}

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub state: web::Data<AppState>,
    /// Keeps the database (and Redis keys) alive as long as the app.
    #[allow(dead_code)]
    pub db: Arc<TestDb>,
}

impl TestApp {
    pub fn admin_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.admin_call(reqwest::Method::GET, path)
    }

    /// A request to the admin listener with the admin token.
    pub fn admin_call(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.admin))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// An admin call with an optional JSON body: the status and the JSON (or text) answer.
    pub async fn admin_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = self.admin_call(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, value)
    }

    /// `GET /admin/keys`: every key that is not retired.
    pub async fn admin_keys(&self) -> Vec<serde_json::Value> {
        let (_, body) = self
            .admin_json(reqwest::Method::GET, "/admin/keys", None)
            .await;
        body["keys"].as_array().unwrap().clone()
    }

    /// The kid in a JWT's header.
    pub fn kid_of(token: &str) -> String {
        use base64::Engine;
        let header = token.split('.').next().unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        header["kid"].as_str().unwrap().to_owned()
    }

    /// `GET path` on the public listener, as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The kids in this instance's JWKS.
    pub async fn jwks_kids(&self) -> Vec<String> {
        let jwks = self.get_json("/.well-known/jwks.json").await;
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Introspects `token` as a confidential client of this app.
    pub async fn introspect_as(
        &self,
        client: &(String, Option<String>),
        token: &str,
    ) -> serde_json::Value {
        self.http
            .post(self.url("/oauth2/introspect"))
            .basic_auth(&client.0, client.1.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Builds and starts the app on `db` (returns the start-up error instead of panicking).
pub async fn try_spawn_on(
    db: Arc<TestDb>,
    overrides: &[(&str, &str)],
    clock: Arc<dyn Clock>,
) -> Result<TestApp, StartupError> {
    let app = Application::build_with_clock(test_settings(&db, overrides), clock).await?;
    let public = format!("http://127.0.0.1:{}", app.public_port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Ok(TestApp {
        public,
        admin,
        http,
        state,
        db,
    })
}

pub async fn spawn_on(db: Arc<TestDb>, overrides: &[(&str, &str)]) -> TestApp {
    try_spawn_on(db, overrides, Arc::new(SystemClock))
        .await
        .unwrap_or_else(|e| panic!("app failed to start: {e}"))
}

pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_on(Arc::new(TestDb::new().await), overrides).await
}

pub async fn spawn_app() -> TestApp {
    spawn_with(&[]).await
}

/// Runs the `tessera` binary with only the given environment (plus PATH).
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The environment a CLI run against `db` needs.
pub fn cli_env(db: &TestDb) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db.url()),
        ("REDIS_URL", redis_url()),
        ("TESSERA_REDIS_PREFIX", db.redis_prefix.clone()),
        ("TESSERA_KEK", test_kek()),
        ("TESSERA_LOG", "warn".into()),
        ("TESSERA_STARTUP_TIMEOUT", "5".into()),
    ]
}

/// A loopback TCP proxy to a backend, which a test can cut to simulate an outage, and
/// which counts the bytes clients send through it (what reached the backend).
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    upstream: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    pub async fn to(upstream: std::net::SocketAddr) -> Self {
        Self::listen("127.0.0.1:0".parse().unwrap(), upstream).await
    }

    /// Listens again on the same address after `cut` (the backend "comes back").
    pub async fn restart(self) -> Self {
        self.cut();
        Self::listen(self.addr, self.upstream).await
    }

    async fn listen(at: std::net::SocketAddr, upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(at).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let counter = counter.clone();
                connections.spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = from_client.read(&mut buf).await {
                            if n == 0 || to_server.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                        }
                        let _ = to_server.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                        let _ = to_client.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Proxy {
            addr,
            upstream,
            task,
            sent,
        }
    }

    /// Stops accepting and drops every open connection.
    pub fn cut(&self) {
        self.task.abort();
    }

    /// Bytes clients have sent through the proxy so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A Postgres URL for `db` through `proxy`.
pub fn db_url_via(db: &TestDb, proxy: &Proxy) -> String {
    db.url().replace("127.0.0.1:5432", &proxy.addr.to_string())
}

/// The address of the test Postgres server.
pub fn pg_addr() -> std::net::SocketAddr {
    let base = pg_base_url();
    let host = base.rsplit('@').next().unwrap_or("127.0.0.1:5432");
    host.trim_end_matches('/').parse().unwrap()
}

pub const STRONG_PASSWORD: &str = "correct-Horse-battery-staple-42";

/// The code pyotp (an independent TOTP implementation) computes for `secret` at `clock`'s
/// current time.
pub fn pyotp_code(secret: &str, clock: &tessera::clock::FixedClock) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/totp_code.py");
    let out = std::process::Command::new("python3")
        .args([script, secret, &clock.now().unix_timestamp().to_string()])
        .output()
        .expect("python3 is needed for interop tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The claims of a JWT, unverified (for assertions on what was issued).
pub fn claims(token: &str) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public)
    }

    /// Turns TOTP on for `email` (a user with `STRONG_PASSWORD`) and returns its secret;
    /// the code is pyotp's at `clock`'s time, so advance the clock before the next one.
    pub async fn enrol_totp(&self, email: &str, clock: &tessera::clock::FixedClock) -> String {
        let login = self.login(email, "openid").await;
        let access = login["access_token"].as_str().unwrap();
        let setup: serde_json::Value = self
            .http
            .post(self.url("/api/v1/me/mfa/totp"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let confirmed = self
            .http
            .post(self.url("/api/v1/me/mfa/totp/confirm"))
            .bearer_auth(access)
            .json(&serde_json::json!({"code": pyotp_code(&secret, clock)}))
            .send()
            .await
            .unwrap();
        assert_eq!(confirmed.status(), reqwest::StatusCode::OK);
        secret
    }

    pub async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/accounts"))
            .json(&serde_json::json!({ "email": email, "password": password, "name": "Test User" }))
            .send()
            .await
            .unwrap()
    }

    /// A registered user with `STRONG_PASSWORD`.
    pub async fn user(&self, email: &str) {
        let response = self.register(email, STRONG_PASSWORD).await;
        assert_eq!(
            response.status(),
            reqwest::StatusCode::CREATED,
            "{:?}",
            response.text().await
        );
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth2/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A password grant for `email` (with `STRONG_PASSWORD`, client `spa`) that must
    /// succeed: its token response.
    pub async fn login(&self, email: &str, scope: &str) -> serde_json::Value {
        let response = self.password_grant(email, STRONG_PASSWORD, scope).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        response.json().await.unwrap()
    }

    /// `grant_type=refresh_token` for the public `spa` client.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    pub async fn password_grant(
        &self,
        email: &str,
        password: &str,
        scope: &str,
    ) -> reqwest::Response {
        self.token(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", email),
            ("password", password),
            ("scope", scope),
        ])
        .await
    }

    /// Creates a client directly through the domain layer; returns (id, secret).
    pub async fn client(
        &self,
        grants: &[&str],
        public: bool,
        first_party: bool,
    ) -> (String, Option<String>) {
        let new = tessera::domain::NewClient {
            name: "test client".into(),
            public,
            first_party,
            grant_types: grants.iter().map(|g| g.parse().unwrap()).collect(),
            scopes: vec![
                "openid".into(),
                "email".into(),
                "profile".into(),
                "api.read".into(),
            ],
            audiences: vec!["https://api.example.com".into()],
            redirect_uris: vec![],
        };
        let operator = tessera::service::admin::Operator {
            actor: "test".into(),
            now: self.state.clock.now(),
        };
        let (client, secret) =
            tessera::service::admin::create_client(&self.state.stores, new, &operator)
                .await
                .unwrap();
        (client.id.to_string(), secret)
    }
}

//! The real server for one test, on port 0 over its own backends, and the CLI.

use std::sync::Arc;

use actix_web::web;
use tessera::clock::{Clock, SystemClock};
use tessera::config::Settings;
use tessera::startup::{Application, StartupError};
use tessera::state::AppState;

use super::db::{admin_tokens_setting, test_kek, Backend, TestDb, ADMIN_TOKEN};
use super::flows::Fetch;

/// Settings for a test app on `db`, with `overrides` applied last.
pub fn test_settings(db: &TestDb, overrides: &[(&str, &str)]) -> Settings {
    let (kek, admin, stores) = (test_kek(), admin_tokens_setting(), db.store_settings());
    let mut pairs: Vec<(&str, &str)> = vec![
        ("issuer", "http://127.0.0.1:8080"),
        ("public_addr", "127.0.0.1:0"),
        ("admin_addr", "127.0.0.1:0"),
        ("kek", &kek),
        ("admin_tokens", &admin),
        ("http_workers", "1"),
        ("db_pool_size", "4"),
        ("startup_timeout", "5"),
    ];
    pairs.extend(stores.iter().map(|(k, v)| (*k, v.as_str())));
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
        let response = request.fetch().await;
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
        self.http.get(self.url(path)).fetch_json().await
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
            .fetch_json()
            .await
    }
}

/// What the stores hold, read through the store traits (so on either backend).
impl TestApp {
    pub async fn stored_user(&self, email: &str) -> Option<tessera::domain::User> {
        let email = tessera::domain::Email::parse(email).unwrap();
        self.state
            .stores
            .users
            .find_user_by_email(&email)
            .await
            .unwrap()
    }

    pub async fn stored_client(&self, id: &str) -> Option<tessera::domain::Client> {
        let id = tessera::domain::ClientId::parse(id).unwrap();
        self.state.stores.clients.find_client(&id).await.unwrap()
    }

    /// Puts a user with `password_hash` straight into the store (as an import would).
    pub async fn store_user(&self, email: &str, password_hash: &str) {
        let user = tessera::store::NewUser {
            id: tessera::domain::UserId::generate(),
            welcome: None,
            identity: None,
            email: tessera::domain::Email::parse(email).unwrap(),
            name: None,
            email_verified: false,
            password_hash: password_hash.to_owned(),
        };
        let now = self.state.clock.now();
        self.state
            .stores
            .users
            .create_user(user, now)
            .await
            .unwrap();
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

/// An app on `db` whose clock the test moves (`FixedClock::advance`) instead of waiting.
pub async fn spawn_on_clock(
    db: Arc<TestDb>,
    overrides: &[(&str, &str)],
    clock: Arc<tessera::clock::FixedClock>,
) -> TestApp {
    try_spawn_on(db, overrides, clock)
        .await
        .unwrap_or_else(|e| panic!("app failed to start: {e}"))
}

/// An app on fresh Postgres + Redis stores.
pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_on(Arc::new(TestDb::new().await), overrides).await
}

pub async fn spawn_app() -> TestApp {
    spawn_with(&[]).await
}

/// An app on fresh stores of `backend`.
pub async fn spawn_backend(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    spawn_on(Arc::new(TestDb::on(backend).await), overrides).await
}

/// Runs the `tessera` binary with only the given environment (plus PATH).
pub fn run_cli<K, V>(args: &[&str], env: &[(K, V)]) -> std::process::Output
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Runs the `tessera` binary, which must succeed, and reads its stdout as JSON.
pub fn cli_json<K, V>(args: &[&str], env: &[(K, V)]) -> serde_json::Value
where
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let out = run_cli(args, env);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs one of `tests/interop`'s Python scripts, which must succeed; its stdout.
pub fn interop_python(script: &str, args: &[&str]) -> Vec<u8> {
    let script = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for interop tests");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The environment a CLI run against `db` needs.
pub fn cli_env(db: &TestDb) -> Vec<(&'static str, String)> {
    let stores = db.store_settings().into_iter().map(|(key, value)| {
        let name = match key {
            "database_url" => "DATABASE_URL",
            "redis_url" => "REDIS_URL",
            "redis_prefix" => "TESSERA_REDIS_PREFIX",
            "data_dir" => "TESSERA_DATA_DIR",
            other => panic!("no environment name for {other}"),
        };
        (name, value)
    });
    let mut env: Vec<(&'static str, String)> = stores.collect();
    env.extend([
        ("TESSERA_KEK", test_kek()),
        ("TESSERA_LOG", "warn".into()),
        ("TESSERA_STARTUP_TIMEOUT", "5".into()),
    ]);
    env
}

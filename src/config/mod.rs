//! Typed settings (book § Configuration, book § Command line): parsed from the raw layered sources, every problem
//! reported at once, secrets redacted in `Debug`.

mod data_dir;
mod fields;
mod mail;
mod parse;
pub mod source;
mod stores;
mod unknown;
mod webauthn;

pub use mail::{EmailVerification, NotifySettings, SmtpSecurity, SmtpSettings};

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

use crate::crypto::{Kek, SigningAlg};
pub use data_dir::{DataDir, DATABASE_FILE};
pub use fields::AdminToken;
use parse::Parser;

/// The longest lifetime any access token can have (a configured TTL over 1 h is refused),
/// whatever the settings say now: what outlives every token (feed events, retiring keys)
/// is timed by it.
pub const MAX_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
pub use source::RawSettings;

/// Where durable state lives (book § Run the service).
#[derive(Debug, Clone)]
pub enum StoreSettings {
    /// Neither `DATABASE_URL` nor `REDIS_URL` set: one SQLite file and process memory
    /// under `data_dir` (`TESSERA_DATA_DIR`).
    Embedded { data_dir: std::path::PathBuf },
    /// Both set: PostgreSQL and Redis, for production and many instances.
    External {
        database_url: SecretString,
        /// One Redis URL, or with `redis_cluster` a Redis Cluster's seed nodes
        /// (comma-separated URLs).
        redis_url: SecretString,
        /// `TESSERA_REDIS_CLUSTER`: talk to a Redis Cluster.
        redis_cluster: bool,
        /// `TESSERA_REDIS_CA_FILE`: the PEM CA a `rediss://` server's certificate must chain
        /// to (a private CA); without it, the system's roots.
        redis_ca: Option<Vec<u8>>,
    },
}

/// Everything tessera needs to run, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer URL without a trailing slash (`iss` claim, discovery).
    pub issuer: String,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// Where durable state lives: the embedded store (default) or PostgreSQL + Redis.
    pub store: StoreSettings,
    pub redis_prefix: String,
    pub kek: Kek,
    /// The embedded mode's data directory as prepared at load (`None` with PostgreSQL).
    pub data_dir: Option<DataDir>,
    /// `keys rewrap` only: the KEK everything is re-sealed under.
    pub new_kek: Option<Kek>,
    pub admin_tokens: Vec<AdminToken>,
    pub signing_algs: Vec<SigningAlg>,
    pub signing_alg: SigningAlg,
    pub rsa_bits: u32,
    pub default_audience: String,
    pub access_token_ttl: Duration,
    pub clock_leeway: Duration,
    pub jwks_max_age: Duration,
    pub jwks_stale_while_revalidate: Duration,
    pub cors_origins: Vec<String>,
    pub cors_allow_credentials: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub allow_insecure_http: bool,
    pub log: String,
    pub startup_timeout: Duration,
    pub migrate_on_start: bool,
    pub http_workers: usize,
    pub max_body_bytes: usize,
    pub db_pool_size: usize,
    pub password: PasswordSettings,
    pub refresh_idle_ttl: Duration,
    /// How long a browser sign-in (`tessera_sso`) lasts (book § Sign-in with the authorization-code flow).
    pub sso_ttl: Duration,
    pub refresh_absolute_ttl: Duration,
    pub client_cache_ttl: Duration,
    pub refresh_grace: Duration,
    pub verified_token_cache: usize,
    pub abuse: AbuseSettings,
    /// The issuer name authenticator apps show next to TOTP accounts.
    pub totp_issuer: String,
    pub notify: NotifySettings,
    /// Scheduled key rotation (`None`: off).
    pub key_rotation_interval: Option<Duration>,
    /// How often each instance checks the stored key-ring version (the fallback to the
    /// Redis change notification) and whether a scheduled rotation is due.
    pub keyring_poll_interval: Duration,
    /// The WebAuthn relying party; `None`: passkeys are off (an issuer on an IP address
    /// and no `TESSERA_WEBAUTHN_RP_ID`).
    pub webauthn: Option<WebauthnSettings>,
    /// Whether a first sign-in through an upstream provider, with no account to link,
    /// makes a new account (book § Upstream providers).
    pub upstream_signup: bool,
    /// Whether DPoP proofs must carry a server nonce (RFC 9449 §8; book § DPoP and PAR).
    pub dpop_nonce: bool,
    /// Whether every client must push its authorization requests (RFC 9126).
    pub require_par: bool,
}

/// The WebAuthn relying party (book § Passkeys): its id, a domain, and the origins a
/// ceremony may come from, each on that domain or a subdomain of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnSettings {
    pub rp_id: String,
    pub origins: Vec<url::Url>,
}

pub use crate::domain::RateLimit;

/// Rate limits and lockout (book § Configuration); `None`: that limit is off.
#[derive(Debug, Clone)]
pub struct AbuseSettings {
    pub login_per_ip: Option<RateLimit>,
    pub register_per_ip: Option<RateLimit>,
    pub forgot_per_email: Option<RateLimit>,
    pub forgot_per_ip: Option<RateLimit>,
    pub reset_per_ip: Option<RateLimit>,
    /// Verification links asked for again, per address and per client address; the same
    /// per-address allowance bounds the "someone tried to register" messages one address
    /// gets.
    pub verify_per_email: Option<RateLimit>,
    pub verify_per_ip: Option<RateLimit>,
    /// Failed client authentications per (client id, client address); successful ones are
    /// never limited, so nobody can lock a client out.
    pub client_auth_failures: Option<RateLimit>,
    /// Revocations that write a feed event (RFC 7009), per client: the revocation feed cannot be grown at will.
    pub revocations_per_client: Option<RateLimit>,
    /// Consecutive failed logins from one network before the account locks for that
    /// network (0: no lockout).
    pub lockout_threshold: u32,
    pub lockout_base: Duration,
    pub lockout_max: Duration,
    /// Password attempts on one account across every network it has not signed in from
    /// within `known_network_ttl`; past it, only those networks may still try.
    pub lockout_account_ceiling: Option<RateLimit>,
    pub known_network_ttl: Duration,
}

/// Password hashing and policy (book § Configuration).
#[derive(Debug, Clone)]
pub struct PasswordSettings {
    pub hash: crate::auth::hashing::HashParams,
    /// Hashing threads (0: one per core).
    pub workers: usize,
    /// Jobs that may wait for a thread before requests are shed with 503.
    pub queue: usize,
    pub min_bytes: usize,
}

/// One bad setting: the variable an operator would change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

/// All bad settings found in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {}: {}", e.key, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// True when some error names this variable (tests and callers match on it).
    pub fn mentions(&self, env_name: &str) -> bool {
        self.0.iter().any(|e| e.key == env_name)
    }
}

impl Settings {
    /// Loads defaults, then the optional TOML file, then the environment, and validates.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigErrors> {
        let raw = source::load(config_file).map_err(|message| {
            ConfigErrors(vec![ConfigError {
                key: "config".into(),
                message,
            }])
        })?;
        Self::from_map(raw)
    }

    /// Builds settings from `(key, value)` pairs, as if they came from the environment
    /// (keys are the lower-case names without prefix: `issuer`, `database_url`, ...).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ConfigErrors> {
        let raw = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), source::RawValue(v.to_owned())))
            .collect();
        Self::from_map(raw)
    }

    /// Parses and validates every setting, collecting all problems.
    pub fn from_map(raw: RawSettings) -> Result<Self, ConfigErrors> {
        let mut p = Parser::new(raw);
        let (mut settings, kek) = Self::parse(&mut p);
        p.finish()?;
        if let StoreSettings::Embedded { data_dir } = &settings.store {
            let need_token = settings.admin_tokens.is_empty();
            let (kek, token, info) =
                data_dir::prepare(data_dir, kek, need_token).map_err(|e| ConfigErrors(vec![e]))?;
            settings.kek = kek;
            settings.admin_tokens.extend(token);
            settings.data_dir = Some(info);
        }
        Ok(settings)
    }

    /// Every setting's name (lower case, without the `TESSERA_` prefix), in the order the
    /// parser asks for them, in both store modes: what the configuration reference in the
    /// book must list (`tests/api/docs.rs` holds it to this).
    pub fn names() -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let external = [("database_url", "postgres://x"), ("redis_url", "redis://x")];
        for pairs in [&[][..], &external[..]] {
            let raw = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), source::RawValue((*v).to_owned())))
                .collect();
            let mut p = Parser::new(raw);
            let _ = Self::parse(&mut p);
            for name in p.known {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// Every setting read from `p`, problems recorded in it.
    /// The KEK as configured comes back too: the embedded store's data directory checks it.
    fn parse(p: &mut Parser) -> (Settings, Option<Kek>) {
        let allow_insecure_http = p.boolean("allow_insecure_http", false);
        let issuer = p.issuer(allow_insecure_http);
        let signing_algs = p.signing_algs();
        let signing_alg = p.signing_alg(&signing_algs);
        let access_token_ttl =
            p.seconds("access_token_ttl", 900, 60, MAX_ACCESS_TOKEN_TTL.as_secs());
        let cors_allow_credentials = p.boolean("cors_allow_credentials", true);
        let default_audience = p
            .opt_string("default_audience")
            .unwrap_or_else(|| issuer.clone().unwrap_or_default());
        let clock_leeway = p.seconds("clock_leeway", 30, 0, 300);
        let jwks_max_age = p.seconds("jwks_max_age", 300, 0, 86_400);
        let key_rotation_interval = p.rotation_interval(jwks_max_age + clock_leeway);
        p.removed(
            "rate_limit_login_account",
            "a per-account limit let anyone block an account's owner (book § Configuration); see TESSERA_LOCKOUT_ACCOUNT_CEILING",
        );
        p.removed(
            "rate_limit_token_client",
            "only failed client authentications are limited now (TESSERA_RATE_LIMIT_CLIENT_AUTH_FAILURES)",
        );
        let cors_origins = p.cors_origins(cors_allow_credentials);
        let store = p.store();
        let embedded = matches!(store, StoreSettings::Embedded { .. });
        let kek = p.kek(!embedded);
        let settings = Settings {
            public_addr: p.socket_addr("public_addr", "0.0.0.0:8080"),
            admin_addr: p.socket_addr("admin_addr", "127.0.0.1:8081"),
            store,
            redis_prefix: p.redis_prefix(),
            kek: kek.clone().unwrap_or_else(Kek::zero),
            data_dir: None,
            new_kek: p.new_kek(),
            admin_tokens: p.admin_tokens(),
            rsa_bits: p.rsa_bits(),
            default_audience,
            access_token_ttl,
            clock_leeway,
            jwks_max_age,
            jwks_stale_while_revalidate: p.seconds("jwks_stale_while_revalidate", 60, 0, 86_400),
            cors_allow_credentials,
            trusted_proxies: p.trusted_proxies(),
            allow_insecure_http,
            log: p.opt_string("log").unwrap_or_else(|| "info".into()),
            startup_timeout: p.seconds("startup_timeout", 30, 0, 3600),
            migrate_on_start: p.boolean("migrate_on_start", true),
            http_workers: p.integer("http_workers", 0, 0, 256),
            max_body_bytes: p.integer("max_body_bytes", 16 * 1024, 1024, 1024 * 1024),
            db_pool_size: p.integer("db_pool_size", 16, 1, 512),
            password: PasswordSettings {
                hash: crate::auth::hashing::HashParams {
                    memory_kib: p.integer("argon2_memory_kib", 19_456, 8, 4 * 1024 * 1024) as u32,
                    iterations: p.integer("argon2_iterations", 2, 1, 100) as u32,
                    parallelism: p.integer("argon2_parallelism", 1, 1, 64) as u32,
                },
                workers: p.integer("hash_workers", 0, 0, 256),
                queue: p.integer("hash_queue", 32, 0, 100_000),
                min_bytes: p.integer("password_min_length", 12, 8, 1024),
            },
            refresh_idle_ttl: p.seconds("refresh_idle_ttl", 7 * 86_400, 60, 365 * 86_400),
            sso_ttl: p.seconds("sso_ttl", 8 * 3600, 60, 30 * 86_400),
            refresh_absolute_ttl: p.seconds("refresh_absolute_ttl", 30 * 86_400, 60, 365 * 86_400),
            client_cache_ttl: p.seconds("client_cache_ttl", 5, 0, 300),
            refresh_grace: p.seconds("refresh_grace", 10, 0, 300),
            verified_token_cache: p.integer("verified_token_cache", 10_000, 0, 1_000_000),
            abuse: AbuseSettings {
                login_per_ip: p.rate_limit("rate_limit_login_ip", 10, 900),
                register_per_ip: p.rate_limit("rate_limit_register_ip", 20, 3600),
                forgot_per_email: p.rate_limit("rate_limit_forgot_email", 3, 86_400),
                forgot_per_ip: p.rate_limit("rate_limit_forgot_ip", 20, 3600),
                reset_per_ip: p.rate_limit("rate_limit_reset_ip", 20, 3600),
                verify_per_email: p.rate_limit("rate_limit_verify_email", 3, 3600),
                verify_per_ip: p.rate_limit("rate_limit_verify_ip", 20, 3600),
                client_auth_failures: p.rate_limit("rate_limit_client_auth_failures", 20, 60),
                revocations_per_client: p.rate_limit("rate_limit_revocations_client", 600, 60),
                lockout_threshold: p.integer("lockout_threshold", 5, 0, 1000) as u32,
                lockout_base: p.seconds("lockout_base", 60, 1, 86_400),
                lockout_max: p.seconds("lockout_max", 3600, 1, 7 * 86_400),
                lockout_account_ceiling: p.rate_limit("lockout_account_ceiling", 100, 3600),
                known_network_ttl: p.seconds("known_network_ttl", 30 * 86_400, 3600, 365 * 86_400),
            },
            totp_issuer: p
                .opt_string("totp_issuer")
                .unwrap_or_else(|| "tessera".into()),
            notify: {
                let reset_url = p.opt_url("password_reset_url");
                NotifySettings {
                    webhook_url: p.opt_secret_url("notify_webhook_url", &["http", "https"]),
                    smtp: p.smtp(reset_url.as_deref()),
                    reset_url,
                    log_links: p.boolean("notify_log_links", false),
                    reset_ttl: p.seconds("password_reset_ttl", 900, 60, 86_400),
                    email_verification: p.email_verification(),
                }
            },
            key_rotation_interval,
            keyring_poll_interval: p.seconds("keyring_poll_interval", 2, 1, 60),
            webauthn: p.webauthn(issuer.as_deref(), &cors_origins),
            upstream_signup: p.boolean("upstream_signup", true),
            dpop_nonce: p.boolean("dpop_nonce", false),
            require_par: p.boolean("require_par", false),
            cors_origins,
            issuer: issuer.unwrap_or_default(),
            signing_algs,
            signing_alg,
        };
        (settings, kek)
    }

    /// Number of HTTP workers per listener (0 means one per core).
    pub fn workers(&self) -> usize {
        if self.http_workers > 0 {
            self.http_workers
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    /// Password-hashing threads.
    pub fn hash_workers(&self) -> usize {
        if self.password.workers > 0 {
            self.password.workers
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    /// Whether responses should carry HSTS (issuer served over https).
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

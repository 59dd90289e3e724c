//! The `tessera` binary (SPEC S1, S14): parses the command line and wires the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tessera::auth::hashing::PasswordHasher;
use tessera::clock::{Clock, SystemClock};
use tessera::config::Settings;
use tessera::domain::{GrantType, NewClient, Password};
use tessera::manage;
use tessera::startup::{Application, Backends};
use tessera::store::redis::RedisStore;
use tessera::store::Stores;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "OAuth 2 / OpenID Connect token issuer"
)]
struct Cli {
    /// Optional TOML configuration file; TESSERA_* environment variables override it.
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the public and admin listeners (migrates first unless TESSERA_MIGRATE_ON_START=false).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi {
        /// The admin listener's document (`openapi/admin.json`) instead of the public one.
        #[arg(long)]
        admin: bool,
    },
    /// Inspect or rotate signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage OAuth clients.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ClientsCommand {
    /// Create a client; prints its JSON, with the secret (shown once) for confidential clients.
    Create {
        #[arg(long, env = "TESSERA_CLIENT_NAME")]
        name: String,
        /// Allowed grant (repeatable): password, client_credentials, refresh_token.
        #[arg(
            long = "grant",
            required = true,
            env = "TESSERA_CLIENT_GRANTS",
            value_delimiter = ','
        )]
        grants: Vec<String>,
        #[arg(
            long = "audience",
            env = "TESSERA_CLIENT_AUDIENCES",
            value_delimiter = ','
        )]
        audiences: Vec<String>,
        #[arg(long = "scope", env = "TESSERA_CLIENT_SCOPES", value_delimiter = ',')]
        scopes: Vec<String>,
        #[arg(
            long = "redirect-uri",
            env = "TESSERA_CLIENT_REDIRECT_URIS",
            value_delimiter = ','
        )]
        redirect_uris: Vec<String>,
        /// A public client (no secret).
        #[arg(long, env = "TESSERA_CLIENT_PUBLIC")]
        public: bool,
        /// A first-party client (may use the password grant).
        #[arg(long, env = "TESSERA_CLIENT_FIRST_PARTY")]
        first_party: bool,
    },
    /// List clients (JSON).
    List,
    /// Issue a new secret (printed once); the old one stops working.
    RotateSecret {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Delete a client and end every session issued to it.
    Delete {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long, env = "TESSERA_USER_EMAIL")]
        email: String,
        #[arg(long, required = true, env = "TESSERA_USER_PASSWORD_STDIN")]
        password_stdin: bool,
    },
    /// Import users from JSON lines with bcrypt or argon2 hashes.
    Import {
        /// The .jsonl file.
        file: PathBuf,
    },
    /// Clear a user's failed-login count and lock.
    Unlock {
        /// The user id (UUID).
        id: String,
    },
    /// End every session of a user and invalidate their access tokens.
    RevokeSessions {
        /// The user id (UUID).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List the signing keys (JSON).
    List,
    /// Promote each algorithm's next key to active and generate a new next key.
    Rotate {
        /// Rotate only this algorithm (ES256, EdDSA, RS256, PS256).
        #[arg(long, env = "TESSERA_ROTATE_ALG")]
        alg: Option<String>,
    },
    /// Import a PEM private key as the next key of its algorithm (signs from the next rotation).
    Import {
        /// The PEM file (PKCS#8, SEC1 or PKCS#1), e.g. keys/signing.pem.
        file: PathBuf,
        /// The algorithm (default: from the key type; RSA keys default to RS256).
        #[arg(long, env = "TESSERA_IMPORT_ALG")]
        alg: Option<String>,
    },
    /// Re-seal every private key and TOTP secret under a new KEK (TESSERA_NEW_KEK or
    /// TESSERA_NEW_KEK_FILE), in one transaction; then restart every instance with it.
    Rewrap,
    /// Emergency revocation: unpublish a key at once and reject its tokens.
    Revoke {
        /// The key id (a thumbprint: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// Exit codes: 2 for configuration errors, 1 for everything else that failed.
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi { admin } = cli.command {
        if admin {
            print!("{}", tessera::http::openapi::admin_document());
        } else {
            print!("{}", tessera::http::openapi::document());
        }
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(errors) => {
            eprint!("tessera: {errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let target = match cli.command {
        Command::Serve => tessera::telemetry::LogTarget::Stdout,
        _ => tessera::telemetry::LogTarget::Stderr,
    };
    let _log_guard = tessera::telemetry::init(&settings.log, target);
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tessera: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> Result<(), String> {
    match command {
        Command::Serve => {
            let app = Application::build(settings)
                .await
                .map_err(|e| e.to_string())?;
            app.run_until_stopped()
                .await
                .map_err(|e| format!("server failed: {e}"))
        }
        Command::Migrate => {
            let backends = Backends::postgres(&settings, false)
                .await
                .map_err(|e| e.to_string())?;
            let applied = backends
                .pg
                .migrate()
                .await
                .map_err(|e| format!("migration failed: {e:#}"))?;
            println!("{{\"applied_migrations\":{applied}}}");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rewrap,
        } => rewrap(settings).await,
        Command::Keys { command } => keys(command, settings).await,
        Command::Clients { command } => clients(command, settings).await,
        Command::Users { command } => users(command, settings).await,
        Command::Openapi { .. } => Ok(()),
    }
}

fn operator() -> manage::Operator {
    manage::Operator {
        actor: "cli".to_owned(),
        now: SystemClock.now(),
    }
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

async fn keys(command: KeysCommand, settings: Settings) -> Result<(), String> {
    let stores = stores(&settings).await?;
    let backends = Backends::postgres(&settings, false)
        .await
        .map_err(|e| e.to_string())?;
    let ring = backends
        .keyring(&settings, Arc::new(SystemClock), true)
        .await
        .map_err(|e| e.to_string())?;
    match command {
        KeysCommand::List | KeysCommand::Rewrap => {}
        KeysCommand::Rotate { alg } => {
            let rotated = manage::rotate_keys(&ring, &stores, alg.as_deref(), &operator())
                .await
                .map_err(|e| format!("rotation failed: {e}"))?;
            for (alg, kid) in rotated {
                eprintln!("tessera: {alg} now signs with {kid}");
            }
        }
        KeysCommand::Import { file, alg } => {
            let pem =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let kid = manage::import_key(&ring, &stores, alg.as_deref(), pem, &operator())
                .await
                .map_err(|e| format!("import failed: {e}"))?;
            eprintln!("tessera: imported {kid} as the next key; it signs after the next rotation");
        }
        KeysCommand::Revoke { kid } => {
            let promoted = manage::revoke_key(&ring, &stores, &kid, &operator())
                .await
                .map_err(|e| format!("revocation of {kid} failed: {e}"))?;
            eprintln!("tessera: {kid} revoked");
            if let Some(active) = promoted {
                eprintln!("tessera: {active} now signs in its place");
            }
        }
    }
    print_json(&serde_json::json!({ "keys": ring.keys() }));
    Ok(())
}

async fn rewrap(settings: Settings) -> Result<(), String> {
    let new = settings.new_kek.as_ref().ok_or(
        "keys rewrap needs the new KEK in TESSERA_NEW_KEK or TESSERA_NEW_KEK_FILE (base64 of 32 random bytes)",
    )?;
    if new.same_as(&settings.kek) {
        return Err("TESSERA_NEW_KEK is the KEK in use; nothing to do".into());
    }
    // no migration and no key generation: only what is stored is re-sealed
    let backends = Backends::postgres(&settings, false)
        .await
        .map_err(|e| e.to_string())?;
    let report = tessera::rewrap::rewrap(&backends.pg, &settings.kek, new)
        .await
        .map_err(|e| format!("rewrap failed: {e}"))?;
    eprintln!(
        "tessera: re-sealed under the new KEK; restart every instance with it as TESSERA_KEK"
    );
    print_json(&report);
    Ok(())
}

async fn stores(settings: &Settings) -> Result<Stores, String> {
    let backends = Backends::postgres(settings, true)
        .await
        .map_err(|e| e.to_string())?;
    let redis = RedisStore::connect(
        &settings.redis_url,
        &settings.redis_prefix,
        settings.startup_timeout,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Stores::new(backends.pg, redis, std::time::Duration::ZERO))
}

async fn clients(command: ClientsCommand, settings: Settings) -> Result<(), String> {
    let stores = stores(&settings).await?;
    match command {
        ClientsCommand::Create {
            name,
            grants,
            audiences,
            scopes,
            redirect_uris,
            public,
            first_party,
        } => {
            let grant_types = grants
                .iter()
                .map(|g| {
                    g.parse::<GrantType>().map_err(|()| {
                        format!("unknown grant {g:?}; allowed: password, client_credentials, refresh_token")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let new = NewClient {
                name,
                public,
                first_party,
                grant_types,
                scopes,
                audiences,
                redirect_uris,
            };
            let (client, secret) = manage::create_client(&stores, new, &operator())
                .await
                .map_err(|e| e.to_string())?;
            print_json(&manage::ClientView::new(&client, secret));
        }
        ClientsCommand::List => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = stores
                    .clients
                    .list_clients(after.as_ref(), 500)
                    .await
                    .map_err(|e| e.to_string())?;
                after = page.last().map(|c| c.id.clone());
                let done = page.len() < 500;
                all.extend(page.iter().map(|c| manage::ClientView::new(c, None)));
                if done {
                    break;
                }
            }
            print_json(&serde_json::json!({ "clients": all }));
        }
        ClientsCommand::RotateSecret { id } => {
            let (client, secret) = manage::rotate_client_secret(&stores, &id, &operator())
                .await
                .map_err(|e| format!("client {id}: {e}"))?;
            print_json(&manage::ClientView::new(&client, Some(secret)));
        }
        ClientsCommand::Delete { id } => {
            let ended = manage::delete_client(&stores, &id, &operator())
                .await
                .map_err(|e| format!("client {id}: {e}"))?;
            print_json(&serde_json::json!({ "deleted": id, "sessions_revoked": ended }));
        }
    }
    Ok(())
}

async fn users(command: UsersCommand, settings: Settings) -> Result<(), String> {
    let stores = stores(&settings).await?;
    match command {
        UsersCommand::Create { email, .. } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|e| format!("cannot read the password: {e}"))?;
            let password = Password::new(password.trim_end_matches(['\r', '\n']).to_owned());
            let hasher =
                PasswordHasher::start(settings.password.hash, 1, 1).map_err(|e| e.to_string())?;
            let request = manage::UserRequest {
                email,
                password,
                name: None,
                email_verified: false,
            };
            let user = manage::create_user(
                &stores,
                &hasher,
                request,
                settings.password.min_bytes,
                &operator(),
            )
            .await
            .map_err(|e| e.to_string())?;
            println!("{}", serde_json::json!({ "id": user.id }));
            Ok(())
        }
        UsersCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let report = manage::import_users(&stores, &text, &operator()).await;
            print_json(&report);
            if report.errors.is_empty() {
                Ok(())
            } else {
                Err(format!("{} line(s) were not imported", report.errors.len()))
            }
        }
        UsersCommand::Unlock { id } => {
            let user: uuid::Uuid = id
                .parse()
                .map_err(|_| format!("{id:?} is not a user id (UUID)"))?;
            manage::unlock_user(&stores, user, &operator())
                .await
                .map_err(|e| format!("user {id}: {e}"))?;
            print_json(&serde_json::json!({ "unlocked": id }));
            Ok(())
        }
        UsersCommand::RevokeSessions { id } => {
            let user: uuid::Uuid = id
                .parse()
                .map_err(|_| format!("{id:?} is not a user id (UUID)"))?;
            let ended = manage::revoke_user_sessions(&stores, &settings, user, &operator())
                .await
                .map_err(|e| format!("user {id}: {e}"))?;
            print_json(&serde_json::json!({ "user": id, "sessions_revoked": ended }));
            Ok(())
        }
    }
}

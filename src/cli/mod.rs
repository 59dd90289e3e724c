//! The `tessera` commands (book § Run the service, book § Command line): each connects once through `store::connect`,
//! migrates only when it writes, calls the same services as the admin API, and fails with
//! a typed `CliError` whose message says what to do.

mod args;
mod clients;
mod keys;
mod providers;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

pub use args::{Cli, ClientsCommand, Command, KeysCommand, ProvidersCommand, UsersCommand};

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigErrors, Settings};
use crate::service::admin::{ManageError, Operator};
use crate::service::transfer;
use crate::startup::{Application, StartupError};
use crate::store::{Backend, RewrapError};
use crate::tokens::KeyRingError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Exit code 2: the settings are wrong (every problem is listed).
    #[error("{0}")]
    Config(ConfigErrors),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Connect(#[from] crate::store::ConnectError),
    #[error("migration failed: {0:#}")]
    Migration(anyhow::Error),
    #[error("server failed: {0}")]
    Server(std::io::Error),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Input the command cannot use; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
    /// An operator action was refused; `what` names the action or its subject.
    #[error("{what}{}{source}", if what.is_empty() { "" } else { ": " })]
    Refused { what: String, source: ManageError },
    #[error("rewrap failed: {0}")]
    Rewrap(RewrapError),
    #[error("{0} line(s) were not imported")]
    NotImported(usize),
}

impl CliError {
    /// Exit codes: 2 for configuration errors, 1 for everything else that failed.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Config(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }

    fn refused(what: impl Into<String>) -> impl FnOnce(ManageError) -> CliError {
        let what = what.into();
        move |source| CliError::Refused { what, source }
    }
}

/// Runs a parsed command line.
pub async fn main(cli: Cli) -> ExitCode {
    if let Command::Openapi { admin } = cli.command {
        if admin {
            print!("{}", crate::http::openapi::admin_document());
        } else {
            print!("{}", crate::http::openapi::document());
        }
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(errors) => {
            let error = CliError::Config(errors);
            eprint!("tessera: {error}");
            return error.exit_code();
        }
    };
    let target = match cli.command {
        Command::Serve => crate::telemetry::LogTarget::Stdout,
        _ => crate::telemetry::LogTarget::Stderr,
    };
    let _log_guard = crate::telemetry::init(&settings.log, target);
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tessera: {error}");
            error.exit_code()
        }
    }
}

async fn run(command: Command, settings: Settings) -> Result<(), CliError> {
    match command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped().await.map_err(CliError::Server)
        }
        Command::Migrate => {
            let backend = crate::store::connect((&settings).into()).await?;
            let applied = migrate(&backend).await?;
            println!("{{\"applied_migrations\":{applied}}}");
            Ok(())
        }
        Command::Backup { file } => backup(&settings, &file).await,
        Command::Export => {
            let backend = connect(&settings, false).await?;
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
            let counts = transfer::export(
                backend.transfer.as_ref(),
                &settings.kek,
                SystemClock.now(),
                &mut out,
            )
            .await
            .map_err(|e| CliError::Invalid(format!("export failed: {e}")))?;
            eprintln!("{}", serde_json::json!({ "exported": counts }));
            Ok(())
        }
        Command::Import { file } => {
            let source = match file {
                Some(path) => transfer::Source::File(std::fs::File::open(&path).map_err(|e| {
                    CliError::Invalid(format!("cannot open {}: {e}", path.display()))
                })?),
                None => transfer::Source::Stream(Box::new(std::io::stdin())),
            };
            let backend = connect(&settings, true).await?;
            let counts = transfer::import(
                backend.transfer.as_ref(),
                &settings.kek,
                source,
                SystemClock.now(),
            )
            .await
            .map_err(|e| CliError::Invalid(e.to_string()))?;
            print_json(&serde_json::json!({ "imported": counts }));
            Ok(())
        }
        Command::Keys { command } => keys::run(command, settings).await,
        Command::Clients { command } => clients::run(command, settings).await,
        Command::Providers { command } => providers::run(command, settings).await,
        Command::Users { command } => users::run(command, settings).await,
        Command::Openapi { .. } => Ok(()),
    }
}

/// Connects once; migrates first when the command writes.
async fn connect(settings: &Settings, writes: bool) -> Result<Backend, CliError> {
    let backend = crate::store::connect(settings.into()).await?;
    if writes {
        migrate(&backend).await?;
    }
    Ok(backend)
}

async fn migrate(backend: &Backend) -> Result<usize, CliError> {
    backend
        .migrator
        .migrate()
        .await
        .map_err(CliError::Migration)
}

/// `tessera backup FILE`: the embedded store only (PostgreSQL has `pg_dump`).
async fn backup(settings: &Settings, file: &std::path::Path) -> Result<(), CliError> {
    let Some(data_dir) = &settings.data_dir else {
        return Err(CliError::Invalid(
            "backup copies the embedded store; with DATABASE_URL set, back up PostgreSQL with pg_dump".into(),
        ));
    };
    if file.exists() {
        return Err(CliError::Invalid(format!(
            "{} exists; name a new file",
            file.display()
        )));
    }
    let store = crate::store::sqlite::SqliteStore::open(&data_dir.database, 2)
        .await
        .map_err(|source| crate::store::ConnectError::Embedded {
            path: data_dir.database.clone(),
            source,
        })?;
    store
        .backup(file)
        .await
        .map_err(|e| CliError::Invalid(format!("backup to {} failed: {e}", file.display())))?;
    print_json(&serde_json::json!({ "backup": file }));
    Ok(())
}

fn operator() -> Operator {
    Operator {
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

fn read(path: &std::path::Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })
}

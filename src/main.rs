//! The `tessera` binary (SPEC S1, S14): parses the command line and wires the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tessera::clock::SystemClock;
use tessera::config::Settings;
use tessera::crypto::SigningAlg;
use tessera::startup::{Application, Backends};

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
    Openapi,
    /// Inspect or rotate signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
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
}

/// Exit codes: 2 for configuration errors, 1 for everything else that failed.
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        print!("{}", tessera::http::openapi::document());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(errors) => {
            eprint!("tessera: {errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _log_guard = tessera::telemetry::init(&settings.log);
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
        Command::Keys { command } => keys(command, settings).await,
        Command::Openapi => Ok(()),
    }
}

async fn keys(command: KeysCommand, settings: Settings) -> Result<(), String> {
    let alg = match &command {
        KeysCommand::Rotate { alg: Some(name) } => {
            let alg: SigningAlg = name.parse().map_err(|()| {
                format!(
                    "unsupported algorithm {name:?}; allowed: {}",
                    SigningAlg::allowed_list()
                )
            })?;
            if !settings.signing_algs.contains(&alg) {
                return Err(format!("{alg} is not enabled (TESSERA_SIGNING_ALGS)"));
            }
            Some(alg)
        }
        _ => None,
    };
    let backends = Backends::postgres(&settings, true)
        .await
        .map_err(|e| e.to_string())?;
    let ring = backends
        .keyring(&settings, Arc::new(SystemClock), true)
        .await
        .map_err(|e| e.to_string())?;
    if let KeysCommand::Rotate { .. } = command {
        let rotated = ring
            .rotate(alg)
            .await
            .map_err(|e| format!("rotation failed: {e}"))?;
        for (alg, kid) in rotated {
            eprintln!("tessera: {alg} now signs with {kid}");
        }
    }
    let list = serde_json::json!({ "keys": ring.keys() });
    println!(
        "{}",
        serde_json::to_string_pretty(&list).unwrap_or_default()
    );
    Ok(())
}

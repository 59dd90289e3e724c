//! The `tessera` binary (book § Run the service, book § Command line): parses the command line and hands it to `cli`.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tessera::cli::main(tessera::cli::Cli::parse()).await
}

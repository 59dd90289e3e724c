//! `check`: verifies access tokens read from stdin, one per line, and prints one JSON line
//! per token on stdout (nothing else goes there; logs go to stderr):
//! `{"valid":true,"sub":…,"jti":…,"kid":…}` or `{"valid":false,"error":"<reason>"}`.
//!
//! ```text
//! check --issuer URL --audience AUD [--client-id ID --client-secret SECRET] [--watch]
//!       [--poll-interval SECONDS]
//! ```
//!
//! Without `--watch` it verifies each line as it comes and exits when stdin closes: 0 if
//! every token was valid, 1 otherwise. With `--watch` the key cache and the revocation
//! feed follower run in the background while it reads, so a token revoked at tessera is
//! refused within one poll interval, and an outage of tessera leaves valid tokens valid.
//! Exit 2: bad arguments, or the issuer could not be read at start.

use std::io::Write;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;

struct Args {
    issuer: String,
    audience: String,
    client: Option<(String, String)>,
    watch: bool,
    poll: Duration,
}

const USAGE: &str = "usage: check --issuer URL --audience AUD [--client-id ID --client-secret SECRET] [--watch] [--poll-interval SECONDS]";

fn args() -> Result<Args, String> {
    let mut raw = std::env::args().skip(1);
    let (mut issuer, mut audience, mut id, mut secret) = (None, None, None, None);
    let (mut watch, mut poll) = (false, Duration::from_secs(5));
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--issuer" => issuer = Some(value()?),
            "--audience" => audience = Some(value()?),
            "--client-id" => id = Some(value()?),
            "--client-secret" => secret = Some(value()?),
            "--poll-interval" => {
                let secs: f64 = value()?
                    .parse()
                    .map_err(|_| "--poll-interval takes seconds")?;
                if !(0.1..=3600.0).contains(&secs) {
                    return Err("--poll-interval must be from 0.1 to 3600 seconds".into());
                }
                poll = Duration::from_secs_f64(secs);
            }
            "--watch" => watch = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let client = match (id, secret) {
        (Some(id), Some(secret)) => Some((id, secret)),
        (None, None) => None,
        _ => return Err("--client-id and --client-secret go together".into()),
    };
    Ok(Args {
        issuer: issuer.ok_or("--issuer is required")?,
        audience: audience.ok_or("--audience is required")?,
        client,
        watch,
        poll,
    })
}

fn line(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // a closed stdout ends the program quietly, as for any filter
    if writeln!(out, "{value}").and_then(|_| out.flush()).is_err() {
        std::process::exit(1);
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = match args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("check: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut builder = tessera_verify::Verifier::builder(&args.issuer)
        .audience(&args.audience)
        .poll_interval(args.poll)
        .background(args.watch);
    if let Some((id, secret)) = &args.client {
        builder = builder.client_credentials(id, secret);
    }
    let verifier = match builder.build().await {
        Ok(verifier) => verifier,
        Err(e) => {
            eprintln!("check: {e}");
            std::process::exit(2);
        }
    };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut all_valid = true;
    loop {
        let token = match lines.next_line().await {
            Ok(Some(token)) => token,
            Ok(None) => break,
            // not UTF-8: a line that is not a token
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                all_valid = false;
                line(serde_json::json!({"valid": false, "error": "malformed"}));
                continue;
            }
            Err(e) => {
                eprintln!("check: stdin: {e}");
                std::process::exit(2);
            }
        };
        match verifier.verify(token.trim()).await {
            Ok(claims) => line(serde_json::json!({
                "valid": true, "sub": claims.sub, "jti": claims.jti, "kid": claims.kid,
            })),
            Err(e) => {
                all_valid = false;
                line(serde_json::json!({"valid": false, "error": e.reason()}));
            }
        }
    }
    std::process::exit(if all_valid { 0 } else { 1 });
}

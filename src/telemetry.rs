//! Logging (book § Endpoints): JSON lines via tracing, filter from `TESSERA_LOG`.
//!
//! Lines are written by a background thread through a buffer that it flushes whenever its
//! queue runs empty (tracing-appender), so a request never waits on a write syscall;
//! nothing is dropped when the queue is full (the writer applies back-pressure instead).

use std::io::BufWriter;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{fmt, EnvFilter};

/// Crates whose debug output carries query parameters (password hashes, secret digests,
/// sealed keys): capped at info whatever `TESSERA_LOG` asks for.
const PARAMETER_LOGGERS: [&str; 1] = ["tokio_postgres"];

/// Crates that log a whole migration's SQL as one info line on a first start, and the
/// server NOTICEs PostgreSQL sends ("relation … already exists, skipping" at every CLI
/// start): capped at warn (tessera logs how many migrations it applied itself).
const VERBOSE_LOGGERS: [&str; 2] = ["refinery_core", "tokio_postgres::connection"];

/// The filter for `TESSERA_LOG` (invalid: `info`), with the parameter loggers capped.
pub fn filter(spec: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    let caps = PARAMETER_LOGGERS.map(|t| (t, "info")).into_iter();
    for (target, level) in caps.chain(VERBOSE_LOGGERS.map(|t| (t, "warn"))) {
        if let Ok(directive) = format!("{target}={level}").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Where log lines go: the server logs to stdout; CLI commands to stderr, because their
/// stdout is the JSON result scripts parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

/// Installs the global JSON subscriber. Call once, from `main`, and keep the guard until
/// exit: dropping it flushes what is buffered.
pub fn init(filter: &str, target: LogTarget) -> WorkerGuard {
    let filter = self::filter(filter);
    let sink: Box<dyn std::io::Write + Send> = match target {
        LogTarget::Stdout => Box::new(std::io::stdout()),
        LogTarget::Stderr => Box::new(std::io::stderr()),
    };
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(4096)
        .finish(BufWriter::with_capacity(64 * 1024, sink));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .try_init();
    guard
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_caps_hold_at_the_most_verbose_level() {
        let filter = super::filter("trace").to_string();
        assert!(filter.contains("tokio_postgres=info"), "{filter}");
        assert!(filter.contains("refinery_core=warn"), "{filter}");
    }
}

//! Logging (SPEC S10): JSON lines via tracing, filter from `TESSERA_LOG`.
//!
//! Lines are written by a background thread through a buffer that it flushes whenever its
//! queue runs empty (tracing-appender), so a request never waits on a write syscall;
//! nothing is dropped when the queue is full (the writer applies back-pressure instead).

use std::io::BufWriter;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global JSON subscriber writing to stdout. Call once, from `main`, and keep
/// the guard until exit: dropping it flushes what is buffered.
pub fn init(filter: &str) -> WorkerGuard {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(4096)
        .finish(BufWriter::with_capacity(64 * 1024, std::io::stdout()));
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

//! Logging (SPEC S10): JSON lines via tracing, filter from `TESSERA_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global JSON subscriber writing to stdout. Call once, from `main`.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .try_init();
}

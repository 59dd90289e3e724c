//! Bounded retry with backoff for backends at start-up (issue: "unreachable at start").

use std::future::Future;
use std::time::Duration;

/// A backend that could not be reached in time: says which and where, never a secret.
#[derive(Debug, thiserror::Error)]
#[error("{what} is unreachable{}: {detail}", if endpoint.is_empty() { String::new() } else { format!(" at {endpoint}") })]
pub struct Unreachable {
    pub what: &'static str,
    pub endpoint: String,
    pub detail: String,
}

impl Unreachable {
    pub fn new(what: &'static str, detail: String) -> Self {
        Unreachable {
            what,
            endpoint: String::new(),
            detail,
        }
    }
}

/// Calls `attempt` until it succeeds or `timeout` has passed, backing off from 100 ms
/// to 2 s between tries. The last error's text becomes the detail.
pub async fn retry_until<T, E, F, Fut>(
    what: &'static str,
    endpoint: &str,
    timeout: Duration,
    mut attempt: F,
) -> Result<T, Unreachable>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut delay = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if tokio::time::Instant::now() + delay > deadline => {
                return Err(Unreachable {
                    what,
                    endpoint: endpoint.to_owned(),
                    detail: format!(
                        "{e} (gave up after {}s; see TESSERA_STARTUP_TIMEOUT)",
                        timeout.as_secs()
                    ),
                });
            }
            Err(e) => {
                tracing::warn!(backend = what, error = %e, retry_in_ms = delay.as_millis() as u64, "backend not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

//! Backend health for readiness (book § Endpoints): each backend answers a ping; the result is
//! kept for a second so a public `/readyz` cannot make strangers ping the backends at will.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;

use time::OffsetDateTime;

use super::StoreError;
use crate::clock::Clock;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one readiness result is answered from memory.
const READINESS_TTL: Duration = Duration::from_secs(1);

/// A backend that readiness checks can ping.
#[async_trait]
pub trait Ping: Send + Sync {
    fn name(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Each backend's name and whether it answered.
pub type Checks = Vec<(&'static str, bool)>;

/// The last readiness result (per instance), refreshed at most once per `READINESS_TTL`.
#[derive(Default)]
pub struct Readiness(tokio::sync::Mutex<Option<(OffsetDateTime, Checks)>>);

impl Readiness {
    /// The backends' state, pinged only when the last result is older than the TTL; callers
    /// arriving meanwhile wait for that one check instead of starting their own. Its age is
    /// read from `clock`, so a test moves past the TTL without waiting.
    pub async fn backends(&self, backends: &[Arc<dyn Ping>], clock: &dyn Clock) -> Checks {
        let mut last = self.0.lock().await;
        let now = clock.now();
        if let Some((at, checks)) = last.as_ref() {
            // a clock set back makes the result stale, never fresh forever
            if (*at..*at + READINESS_TTL).contains(&now) {
                return checks.clone();
            }
        }
        let pings = backends.iter().map(|backend| async move {
            let ok = matches!(
                tokio::time::timeout(CHECK_TIMEOUT, backend.ping()).await,
                Ok(Ok(()))
            );
            if !ok {
                tracing::warn!(backend = backend.name(), "readiness check failed");
            }
            (backend.name(), ok)
        });
        let checks = join_all(pings).await;
        *last = Some((now, checks.clone()));
        checks
    }
}

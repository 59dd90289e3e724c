//! Liveness and readiness (SPEC S10): `/healthz` (process up), `/readyz` (Postgres, Redis,
//! key ring), with a safe JSON reason when something is down.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use futures_util::future::join_all;
use serde::Serialize;
use utoipa::ToSchema;

use crate::startup::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: &'static str,
    /// Per dependency: `ok` or `unavailable` (readiness only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<&'static str, &'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(Health {
            status: "ok",
            checks: BTreeMap::new(),
        })
}

/// How long one readiness result is answered from memory: public `/readyz` must not let
/// strangers ping the backends at will.
const READINESS_TTL: Duration = Duration::from_secs(1);

/// The last readiness result (per instance), refreshed at most once per `READINESS_TTL`.
#[derive(Default)]
pub struct Readiness(tokio::sync::Mutex<Option<(std::time::Instant, Checks)>>);

/// Each backend's name and whether it answered.
type Checks = Vec<(&'static str, bool)>;

impl Readiness {
    /// The backends' state, pinged only when the last result is older than the TTL; callers
    /// arriving meanwhile wait for that one check instead of starting their own.
    async fn backends(&self, state: &AppState) -> Checks {
        let mut last = self.0.lock().await;
        if let Some((at, checks)) = last.as_ref() {
            if at.elapsed() < READINESS_TTL {
                return checks.clone();
            }
        }
        let pings = state.stores.health.iter().map(|backend| async move {
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
        *last = Some((std::time::Instant::now(), checks.clone()));
        checks
    }
}

/// Ready to serve: Postgres and Redis answer and every enabled algorithm can sign. The
/// backends are pinged at most once a second; in between the last result is answered.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is down; `checks` names it", body = Health)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backends = state.readiness.backends(&state).await;
    let mut checks: BTreeMap<&'static str, &'static str> = BTreeMap::new();
    let mut ready = true;
    let keyring = ("keyring", state.keyring.is_ready());
    for (name, ok) in backends.into_iter().chain([keyring]) {
        ready &= ok;
        checks.insert(name, if ok { "ok" } else { "unavailable" });
    }
    let mut response = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    if !ready {
        response.insert_header(("retry-after", "5"));
    }
    response
        .insert_header(("cache-control", "no-store"))
        .json(Health {
            status: if ready { "ready" } else { "unavailable" },
            checks,
        })
}

//! Liveness and readiness (book § Endpoints): `/healthz` (process up), `/readyz` (Postgres, Redis,
//! key ring), with a safe JSON reason when something is down.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

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

/// Ready to serve: Postgres and Redis answer and every enabled algorithm can sign. The
/// backends are pinged at most once a second; in between the last result is answered.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "A dependency is down; `checks` names it", body = Health)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backends = state.backend_checks().await;
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
        response.insert_header(("retry-after", super::error::RETRY_AFTER_UNAVAILABLE));
    }
    response
        .insert_header(("cache-control", "no-store"))
        .json(Health {
            status: if ready { "ready" } else { "unavailable" },
            checks,
        })
}

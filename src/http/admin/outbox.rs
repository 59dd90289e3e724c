//! `/admin/outbox` (book § Email): what waits to be delivered, the messages whose delivery
//! gave up, and a retry of one. No message's content is shown: it may carry a link's token.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AdminCaller;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditEvent, OutboxMessage};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/outbox", web::get().to(outbox))
        .route("/outbox/{id}/retry", web::post().to(retry_message));
}

/// The failed messages listed at most.
const LISTED: usize = 100;

/// A message whose delivery gave up.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedMessage {
    #[schema(value_type = String, format = Uuid)]
    pub id: crate::domain::MessageId,
    /// `password_reset`, `security_notice`, `email_verification`, `email_change` or
    /// `backchannel_logout`.
    pub kind: String,
    pub attempts: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// The last attempt's error, as the transport described it.
    pub last_error: Option<String>,
}

impl From<OutboxMessage> for FailedMessage {
    fn from(m: OutboxMessage) -> Self {
        FailedMessage {
            id: m.id,
            kind: m.kind,
            attempts: m.attempts,
            created_at: m.created_at.unix_timestamp(),
            last_error: m.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    /// Messages waiting for delivery (due now or backing off after a failure).
    pub queued: u64,
    /// Messages given up on after every attempt.
    pub failed: u64,
    /// Seconds since the oldest queued message was written; 0 when none waits.
    pub oldest_queued_age_seconds: i64,
    /// The failed messages, oldest first (at most 100).
    pub failures: Vec<FailedMessage>,
}

/// What the outbox holds, and the messages whose delivery gave up.
#[utoipa::path(get, path = "/admin/outbox", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The outbox", body = OutboxView),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::Busy))]
pub async fn outbox(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = state.outbox.stats().await?;
    let failures = state.outbox.failures(LISTED).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(OutboxView {
        queued: stats.queued,
        failed: stats.failed,
        oldest_queued_age_seconds: stats.oldest.map_or(0, |t| (now - t).whole_seconds().max(0)),
        failures: failures.into_iter().map(Into::into).collect(),
    }))
}

/// Queues a message whose delivery gave up again, to be sent now.
#[utoipa::path(post, path = "/admin/outbox/{id}/retry", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "Message id")),
    responses(
        (status = 204, description = "Queued again"),
        (status = 404, description = "No failed message with this id", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::Busy))]
pub async fn retry_message(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.parse().map_err(|_| ApiError::NotFound)?;
    if !state.outbox.retry(id).await? {
        return Err(ApiError::NotFound);
    }
    let event = AuditEvent::new("outbox_retried", "ok")
        .actor(operator.actor.clone())
        .detail(serde_json::json!({ "message": id }));
    crate::service::audit::record_at(&state.stores, event, operator.now).await;
    Ok(HttpResponse::NoContent().finish())
}

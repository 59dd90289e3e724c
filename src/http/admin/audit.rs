//! `/admin/audit` (book § Endpoints): the audit trail, newest first, keyset-paginated.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::UserId;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{AuditQuery, AuditRecord};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list));
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Only events about this user id.
    pub user: Option<String>,
    /// Only this event type, e.g. `login_failed`, `key_rotated`, `admin_request`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only events at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only events older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// A stored audit event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditRecord)]
pub struct AuditEventBody {
    /// Increasing; pass the last one seen as `before` to page back in time.
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The admin token label, `cli`, `scheduler`, or none for end-user events.
    pub actor: Option<String>,
    pub user_id: Option<uuid::Uuid>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditRecord> for AuditEventBody {
    fn from(r: AuditRecord) -> Self {
        AuditEventBody {
            id: r.id,
            at: r.at,
            event_type: r.event_type,
            actor: r.actor,
            user_id: r.user_id.map(|u| *u.as_uuid()),
            client_id: r.client_id,
            ip: r.ip,
            outcome: r.outcome,
            detail: r.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEventBody>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// Audit events matching every given filter, newest first.
#[utoipa::path(get, path = "/admin/audit", tag = "admin",
    security(("admin_token" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "A malformed filter (named)", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused))]
pub async fn list(
    state: web::Data<AppState>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = super::page_limit(params.limit, 100, 1000)?;
    let user = params
        .user
        .map(|u| u.parse::<UserId>())
        .transpose()
        .map_err(|_| super::invalid("user", "must be a user id (UUID)"))?;
    let since = params
        .since
        .map(|s| time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339))
        .transpose()
        .map_err(|_| super::invalid("since", "must be an RFC 3339 time"))?;
    let event_type = params.event_type.filter(|t| !t.is_empty());
    if event_type
        .as_ref()
        .is_some_and(|t| t.len() > 64 || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(super::invalid(
            "type",
            "must be an event type like login_failed",
        ));
    }
    let query = AuditQuery {
        user,
        event_type,
        since,
        before: params.before,
        limit: limit as i64,
    };
    let events = crate::service::admin::audit_events(&state.stores, &query).await?;
    let next_before = (events.len() == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        events: events.into_iter().map(AuditEventBody::from).collect(),
        next_before,
    }))
}

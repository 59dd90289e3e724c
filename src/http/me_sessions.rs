//! The signed-in user's sessions (book § Endpoints): `GET /api/v1/me/sessions`,
//! `DELETE /api/v1/me/sessions/{id}`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::bearer::{AccountUser, Bearer};
use super::error::{ApiError, ResourceError};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The session id (the `sid` claim of its tokens).
    pub id: String,
    pub client_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last login or refresh.
    pub last_used: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The session of the token making this request.
    pub current: bool,
}

/// A sign-in on the hosted pages (the `tessera_sso` cookie of one browser).
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInView {
    /// End it with `DELETE /api/v1/me/sessions/{id}` (its sessions end with it).
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the sign-in itself.
    pub auth_time: i64,
    /// Unix seconds.
    pub expires_at: i64,
    pub amr: Vec<String>,
    /// The upstream provider it went through, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
    /// Browser sign-ins on the hosted pages, newest first.
    pub browser_sign_ins: Vec<SignInView>,
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "session",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions", body = SessionList),
        crate::http::error::responses::AccountTokenRefused))]
pub async fn list(
    state: web::Data<AppState>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let sessions = state
        .sessions
        .list(&session.user)
        .await
        .map_err(ApiError::from)?;
    let sign_ins = state
        .sessions
        .list_sign_ins(&session.user)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|s| {
            let (amr, idp) = crate::domain::methods::split(&s.amr);
            SignInView {
                id: s.id,
                created_at: s.created_at.unix_timestamp(),
                auth_time: s.auth_time.unix_timestamp(),
                expires_at: s.expires_at.unix_timestamp(),
                amr,
                idp,
            }
        })
        .collect();
    let current = session.claims.sid;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView {
            current: Some(&s.id) == current.as_ref(),
            id: s.id.to_string(),
            client_id: s.client_id,
            created_at: s.created_at.unix_timestamp(),
            last_used: s.last_used.unix_timestamp(),
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionList {
            sessions,
            browser_sign_ins: sign_ins,
        }))
}

/// Ends one of the caller's sessions, or a browser sign-in and every session started
/// under it (another user's id is a 404).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "session",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        crate::http::error::responses::AccountTokenRefused,
        (status = 404, description = "No such session of this user", body = crate::http::error::ErrorBody)))]
pub async fn end(
    state: web::Data<AppState>,
    id: web::Path<String>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let ended = state
        .sessions
        .end(&session.user, &id)
        .await
        .map_err(ApiError::from)?;
    if !ended {
        return Err(ApiError::NotFound.into());
    }
    Ok(HttpResponse::NoContent().finish())
}

//! The signed-in user's sessions and password (SPEC S6): `GET /api/v1/me/sessions`,
//! `DELETE /api/v1/me/sessions/{id}`, `POST /api/v1/me/password`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::{account_user, ResourceError};
use crate::domain::Password;
use crate::http::error::ApiError;
use crate::service::grants::password::{change_password, ChangeError};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "session",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions", body = SessionList),
        (status = 401, description = "Missing or invalid token", body = crate::http::error::ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ResourceError> {
    let (claims, user) = account_user(&req, &state).await?;
    let sessions = state
        .stores
        .families
        .list_sessions(user.id)
        .await
        .map_err(ApiError::from)?;
    let current = claims.sid.unwrap_or_default();
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.id == current,
            id: s.id,
            client_id: s.client_id,
            created_at: s.created_at,
            last_used: s.last_used,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionList { sessions }))
}

/// Ends one of the caller's sessions (another user's session id is a 404).
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "session",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "Missing or invalid token", body = crate::http::error::ErrorBody),
        (status = 404, description = "No such session of this user", body = crate::http::error::ErrorBody)))]
pub async fn end(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ResourceError> {
    let (_, user) = account_user(&req, &state).await?;
    let id = id.into_inner();
    if id.len() > 64 {
        return Err(ApiError::NotFound.into());
    }
    let family = state
        .stores
        .families
        .find_family(&id)
        .await
        .map_err(ApiError::from)?;
    match family {
        Some(family) if family.user_id == user.id => {
            state
                .stores
                .families
                .revoke_family(&id, None)
                .await
                .map_err(ApiError::from)?;
            tracing::info!(sid = %id, user_id = %user.id, "session ended by its user");
            Ok(HttpResponse::NoContent().finish())
        }
        _ => Err(ApiError::NotFound.into()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// Same policy as registration.
    pub new_password: String,
}

/// Changes the password; every other session ends and earlier access tokens stop working.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "session",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; refresh this session to get a new access token"),
        (status = 400, description = "The new password fails the policy; `fields` names each rule", body = crate::http::error::ErrorBody),
        (status = 401, description = "Missing or invalid token, or wrong current password", body = crate::http::error::ErrorBody),
        (status = 409, description = "Changed concurrently; retry", body = crate::http::error::ErrorBody),
        (status = 503, description = "Busy; retry after Retry-After", body = crate::http::error::ErrorBody)))]
pub async fn change(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ResourceError> {
    let (claims, user) = account_user(&req, &state).await?;
    let PasswordChange {
        current_password,
        new_password,
    } = body.into_inner();
    let sid = claims.sid.unwrap_or_default();
    let result = change_password(
        &state,
        &user,
        Password::new(current_password),
        Password::new(new_password),
        &sid,
    )
    .await;
    let error = match result {
        Ok(()) => return Ok(HttpResponse::NoContent().finish()),
        Err(ChangeError::WrongPassword) => ApiError::InvalidCredentials,
        Err(ChangeError::Policy(fields)) => ApiError::BadRequest {
            code: "invalid_request",
            description: "the new password is not acceptable".into(),
            fields,
        },
        Err(ChangeError::Concurrent) => {
            ApiError::Conflict("conflict", "the password was changed concurrently; retry")
        }
        Err(ChangeError::Hash(_)) => ApiError::Unavailable("password hashing"),
        Err(ChangeError::Store(e)) => e.into(),
    };
    Err(error.into())
}

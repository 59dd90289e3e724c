//! The signed-in user's password (book § Endpoints): `POST /api/v1/me/password`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::bearer::{AccountUser, Bearer};
use super::error::{ApiError, ResourceError};
use crate::domain::Password;
use crate::state::AppState;

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
        crate::http::error::responses::Busy))]
pub async fn change(
    state: web::Data<AppState>,
    body: web::Json<PasswordChange>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.into_inner();
    state
        .passwords
        .change_password(
            &session.user,
            Password::new(current_password),
            Password::new(new_password),
            session.claims.sid.as_ref(),
        )
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

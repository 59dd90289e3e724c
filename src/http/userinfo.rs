//! `GET|POST /oauth2/userinfo` (OIDC Core §5.3): claims about the token's user, by scope.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::bearer::{user_claims, BearerError};
use crate::error::ApiError;
use crate::startup::AppState;

/// Standard claims; `email*` with scope `email`, `name` with scope `profile`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    #[error(transparent)]
    Bearer(#[from] BearerError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl actix_web::ResponseError for UserInfoError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            Self::Bearer(e) => e.status_code(),
            Self::Api(e) => e.status_code(),
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Bearer(e) => e.error_response(),
            Self::Api(e) => e.error_response(),
        }
    }
}

/// The user behind a bearer access token.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth2",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Claims about the user", body = UserInfo),
        (status = 401, description = "Missing or invalid token; see WWW-Authenticate", body = crate::error::ErrorBody)))]
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UserInfoError> {
    let claims = user_claims(&req, &state)?;
    let id = claims.sub.parse().map_err(|_| BearerError::Invalid)?;
    let user = state
        .stores
        .users
        .find_user(id)
        .await
        .map_err(ApiError::from)?
        .ok_or(BearerError::Invalid)?;
    let (email, profile) = (claims.has_scope("email"), claims.has_scope("profile"));
    let info = UserInfo {
        sub: claims.sub,
        email: email.then(|| user.email.as_str().to_owned()),
        email_verified: email.then_some(user.email_verified),
        name: if profile { user.name } else { None },
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(info))
}

/// The same, by POST (OIDC Core §5.3.1).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oauth2",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Claims about the user", body = UserInfo),
        (status = 401, description = "Missing or invalid token; see WWW-Authenticate", body = crate::error::ErrorBody)))]
pub async fn userinfo_post(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, UserInfoError> {
    userinfo(req, state).await
}

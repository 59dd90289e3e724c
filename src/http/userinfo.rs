//! `GET|POST /oauth2/userinfo` (OIDC Core §5.3): claims about the token's user, by scope.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::bearer::BearerUser;
use super::error::ResourceError;

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

/// The user behind a bearer access token.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth2",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Claims about the user", body = UserInfo),
        (status = 401, description = "Missing or invalid token; see WWW-Authenticate", body = crate::http::error::ErrorBody)))]
pub async fn userinfo(BearerUser(session): BearerUser) -> Result<HttpResponse, ResourceError> {
    let (claims, user) = (session.claims, session.user);
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
        (status = 401, description = "Missing or invalid token; see WWW-Authenticate", body = crate::http::error::ErrorBody)))]
pub async fn userinfo_post(user: BearerUser) -> Result<HttpResponse, ResourceError> {
    userinfo(user).await
}

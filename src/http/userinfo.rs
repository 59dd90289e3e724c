//! `GET|POST /oauth2/userinfo` (OIDC Core §5.3): claims about the token's user, by scope.

use actix_web::http::header;
use actix_web::HttpResponse;

use super::bearer::{Bearer, BearerUser};
use super::error::ResourceError;
use crate::tokens::UserInfo;

/// The user behind a bearer access token.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth2",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Claims about the user", body = UserInfo),
        crate::http::error::responses::BearerRefused))]
pub async fn userinfo(Bearer(session): BearerUser) -> Result<HttpResponse, ResourceError> {
    let claims = &session.claims;
    let info = UserInfo::new(&session.user, |scope| claims.has_scope(scope));
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(info))
}

/// The same, by POST (OIDC Core §5.3.1).
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oauth2",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Claims about the user", body = UserInfo),
        crate::http::error::responses::BearerRefused))]
pub async fn userinfo_post(user: BearerUser) -> Result<HttpResponse, ResourceError> {
    userinfo(user).await
}

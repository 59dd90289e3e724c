//! `GET /api/v1/me` (book § Endpoints): the signed-in user's account.

use actix_web::http::header;
use actix_web::HttpResponse;

use super::bearer::{AccountUser, Bearer};
use super::error::ResourceError;
use super::registration::Account;

/// The account of the access token's user.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = Account),
        crate::http::error::responses::AccountTokenRefused))]
pub async fn me(Bearer(session): AccountUser) -> Result<HttpResponse, ResourceError> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Account::from(session.user)))
}

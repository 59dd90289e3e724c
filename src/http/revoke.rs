//! `POST /oauth2/revoke` (RFC 7009): client-authenticated, form-encoded.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::form::Form;
use super::oauth_client::{authenticate, token_param};
use crate::domain::OAuthError;
use crate::service::revocations;
use crate::state::AppState;

/// RFC 7009 / RFC 7662 request parameters (form-encoded), for the OpenAPI description.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenParam {
    /// The token.
    token: String,
    /// `access_token` or `refresh_token` (a hint; the token's form decides).
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Revokes a refresh token (and its whole session) or an access token.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth2",
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or the token was unknown or not the client's"),
        (status = 400, description = "RFC 6749 §5.2 error", body = crate::http::error::OAuthErrorBody),
        (status = 401, description = "invalid_client", body = crate::http::error::OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications from this address: retry after Retry-After", body = crate::http::error::OAuthErrorBody),
        (status = 503, description = "Retry after Retry-After", body = crate::http::error::OAuthErrorBody)))]
pub async fn revoke(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let mut form = Form::parse(&req, &body)?;
    let client = authenticate(&req, &mut form, &state).await?;
    let token = token_param(&mut form)?;
    revocations::revoke(&state, &client, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

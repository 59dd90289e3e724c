//! `POST /oauth2/revoke` (RFC 7009): client-authenticated, form-encoded.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::oauth_client::token_request;
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
        crate::http::error::responses::OAuthInvalidRequest,
        crate::http::error::responses::InvalidClient,
        crate::http::error::responses::ClientAuthThrottled,
        crate::http::error::responses::OAuthUnavailable))]
pub async fn revoke(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = token_request(&req, &body, &state).await?;
    revocations::revoke(&state.token_endpoints, &client, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

//! `POST /oauth2/introspect` (RFC 7662): confidential clients only, form-encoded.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::oauth_client::token_request;
use super::revoke::TokenParam;
use crate::domain::OAuthError;
use crate::service::revocations;
use crate::state::AppState;

/// Token status and, when active, its claims.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth2",
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "`{\"active\": false}` or the active token's claims", content_type = "application/json", body = Object),
        crate::http::error::responses::OAuthInvalidRequest,
        (status = 401, description = "invalid_client: unauthenticated, or a public client (only confidential clients may introspect)", body = crate::http::error::OAuthErrorBody),
        crate::http::error::responses::ClientAuthThrottled,
        crate::http::error::responses::OAuthUnavailable))]
pub async fn introspect(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = token_request(&req, &body, &state).await?;
    // RFC 7662 §2.1 / RFC 6749, book § Endpoints: a public client proves nothing by naming itself
    if client.public {
        return Err(OAuthError::InvalidClient);
    }
    let status = revocations::introspect(&state.token_endpoints, &client, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(status))
}

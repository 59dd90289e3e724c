//! `POST /oauth2/introspect` (RFC 7662): confidential clients only, form-encoded.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::form::Form;
use super::oauth_client::{authenticate, token_param};
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
        (status = 400, description = "RFC 6749 §5.2 error", body = crate::http::error::OAuthErrorBody),
        (status = 401, description = "invalid_client: unauthenticated, or a public client (only confidential clients may introspect)", body = crate::http::error::OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications from this address: retry after Retry-After", body = crate::http::error::OAuthErrorBody),
        (status = 503, description = "Retry after Retry-After", body = crate::http::error::OAuthErrorBody)))]
pub async fn introspect(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let mut form = Form::parse(&req, &body)?;
    let client = authenticate(&req, &mut form, &state).await?;
    let token = token_param(&mut form)?;
    // RFC 7662 §2.1 / SPEC S5: a public client proves nothing by naming itself
    if client.public {
        return Err(OAuthError::InvalidClient);
    }
    let status = revocations::introspect(&state, &client, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(status))
}

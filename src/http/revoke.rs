//! `POST /oauth2/revoke` (RFC 7009) and `POST /oauth2/introspect` (RFC 7662): both
//! client-authenticated, form-encoded.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::form::Form;
use crate::auth::client_auth;
use crate::domain::Client;
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

async fn authenticated(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<(Client, String), OAuthError> {
    let mut form = Form::parse(req, body)?;
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map_err(|_| OAuthError::InvalidClient))
        .transpose()?;
    let secret = form.take("client_secret");
    let presented =
        client_auth::presented(authorization, form.get("client_id"), secret.as_deref())?;
    let ip = super::extract::peer_ip(req);
    let client =
        crate::service::abuse::authenticate_client(state, &presented, ip.as_deref()).await?;
    let token = form
        .take("token")
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    if let Some(hint) = form.get("token_type_hint") {
        if !matches!(hint, "access_token" | "refresh_token") {
            return Err(OAuthError::InvalidRequest(
                "token_type_hint must be access_token or refresh_token".into(),
            ));
        }
    }
    Ok((client, token))
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
    let (client, token) = authenticated(&req, &body, &state).await?;
    revocations::revoke(&state, &client, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

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
    let (client, token) = authenticated(&req, &body, &state).await?;
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

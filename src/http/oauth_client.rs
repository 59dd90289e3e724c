//! The authenticated OAuth client of a form-encoded request (RFC 6749 §2.3): credentials
//! from `Authorization: Basic` or the form, checked by the service with its failure limit.
//! Shared by the token, revocation and introspection endpoints.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::form::Form;
use crate::auth::client_auth;
use crate::domain::{Client, OAuthError};
use crate::state::AppState;

/// The client the request's credentials authenticate; `client_secret` is taken out of the
/// form so nothing later can echo it.
pub async fn authenticate(
    req: &HttpRequest,
    form: &mut Form,
    state: &AppState,
) -> Result<Client, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().map_err(|_| OAuthError::InvalidClient))
        .transpose()?;
    let secret = form.take("client_secret");
    let assertion = form.take("client_assertion");
    let params = client_auth::AssertionParams {
        kind: form.get("client_assertion_type"),
        assertion: assertion.as_deref(),
    };
    let presented = client_auth::presented(
        authorization,
        form.get("client_id"),
        secret.as_deref(),
        params,
    )?;
    let ip = super::extract::peer_ip(req);
    state
        .client_gate
        .authenticate(&presented, ip.as_deref())
        .await
}

/// The `token` of a revocation or introspection request (RFC 7009 §2.1, RFC 7662 §2.1),
/// with its optional hint checked.
fn token_param(form: &mut Form) -> Result<String, OAuthError> {
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
    Ok(token)
}

/// A revocation or introspection request: the authenticated client and the `token`.
pub async fn token_request(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<(Client, String), OAuthError> {
    let mut form = Form::parse(req, body)?;
    let client = authenticate(req, &mut form, state).await?;
    let token = token_param(&mut form)?;
    Ok((client, token))
}

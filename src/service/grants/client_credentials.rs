//! `grant_type=client_credentials` (RFC 6749 §4.4): confidential clients only; `sub` is the
//! client id; no refresh token and no ID token.

use crate::domain::OAuthError;
use crate::domain::{Client, GrantType};
use crate::state::AppState;

use super::{access_token, resolve_scope, TokenResponse};

/// OpenID Connect scopes that only make sense with a user.
const USER_SCOPES: [&str; 3] = ["openid", "email", "profile"];

pub fn grant(
    state: &AppState,
    client: &Client,
    scope: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    if client.public || !client.allows(GrantType::ClientCredentials) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use client_credentials",
        ));
    }
    let requested = scope.is_some();
    let mut scope = resolve_scope(client, scope)?;
    if requested && USER_SCOPES.iter().any(|s| scope.contains(s)) {
        return Err(OAuthError::InvalidScope(
            "openid, email and profile need a user; client_credentials has none".into(),
        ));
    }
    // by default: what the client may request, less the scopes that describe a user
    scope = scope.without(&USER_SCOPES);
    let (access_token, expires_in) = access_token(state, client, client.id.as_str(), &scope, None)?;
    crate::metrics::token_issued("client_credentials");
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        scope: scope.to_string(),
        refresh_token: None,
        id_token: None,
    })
}

//! `grant_type=refresh_token` (RFC 6749 §6, SPEC S4): the presented token is checked and
//! replaced in one atomic Redis step; the new set keeps the session (`sid`, `auth_time`,
//! `amr`) and may only narrow the scope.

use crate::domain::{Client, ClientId, GrantType, Scope};
use crate::error::OAuthError;
use crate::startup::AppState;
use crate::store::Rotation;
use crate::tokens::refresh;

use super::{user_tokens, TokenResponse};

/// Rotates `presented`; with `client` the family must belong to it (the OAuth endpoint),
/// without it the family's own client is used (the SPA cookie endpoint).
pub async fn rotate(
    state: &AppState,
    client: Option<&Client>,
    presented: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    const INVALID: OAuthError =
        OAuthError::InvalidGrant("refresh token is invalid, expired or revoked");
    if let Some(client) = client {
        if !client.allows(GrantType::RefreshToken) {
            return Err(OAuthError::UnauthorizedClient(
                "this client may not use refresh tokens",
            ));
        }
    }
    let Some((family_id, presented_hash)) = refresh::parse(presented) else {
        return Err(INVALID);
    };
    let next = refresh::issue(&family_id).ok_or(INVALID)?;
    let now = state.clock.now().unix_timestamp();
    let idle = state.settings.refresh_idle_ttl.as_secs() as i64;
    let owner = client.map(|c| c.id.as_str());
    let family = match state
        .stores
        .families
        .rotate(&family_id, &presented_hash, &next.sha256, owner, now, idle)
        .await?
    {
        Rotation::Rotated(family) => family,
        Rotation::Rejected => return Err(INVALID),
    };
    let client = match client {
        Some(c) => c.clone(),
        None => {
            let id = ClientId::parse(&family.client_id).map_err(|_| INVALID)?;
            state
                .stores
                .clients
                .find_client(&id)
                .await?
                .ok_or(INVALID)?
        }
    };
    let granted = Scope::parse(&family.scope).map_err(|_| INVALID)?;
    let scope = match scope {
        None => granted,
        Some(text) => {
            let narrower = Scope::parse(text).map_err(|e| OAuthError::InvalidScope(e.into()))?;
            if !narrower.is_subset(&granted) {
                return Err(OAuthError::InvalidScope(
                    "scope exceeds the original grant".into(),
                ));
            }
            narrower
        }
    };
    let user = state
        .stores
        .users
        .find_user(family.user_id)
        .await?
        .ok_or(INVALID)?;
    user_tokens(state, &client, &user, &scope, &family, Some(&next))
}

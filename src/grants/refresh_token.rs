//! `grant_type=refresh_token` (RFC 6749 §6, SPEC S4): the presented token is checked and
//! replaced in one atomic Redis step. A retry of the just-retired token within the grace
//! window gets the same new refresh token (and an access token for the same session); an
//! older token of the family is theft: the family is revoked (its access tokens with it)
//! and the event audited.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::domain::{Client, ClientId, GrantType, Scope};
use crate::error::OAuthError;
use crate::startup::AppState;
use crate::store::{AuditEvent, Family, RotateRequest, Rotation};
use crate::tokens::refresh::{self, RefreshToken};

use super::{user_tokens, TokenResponse};

const INVALID: OAuthError =
    OAuthError::InvalidGrant("refresh token is invalid, expired or revoked");

/// Rotates `presented`; with `client` the family must belong to it (the OAuth endpoint),
/// without it the family's own client is used (the SPA cookie endpoint). `ip` is for the
/// audit trail.
pub async fn rotate(
    state: &AppState,
    client: Option<&Client>,
    presented: &str,
    scope: Option<&str>,
    ip: Option<String>,
) -> Result<TokenResponse, OAuthError> {
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
    let sealed_next = STANDARD.encode(
        state
            .settings
            .kek
            .seal(next.expose().as_bytes(), family_id.as_bytes()),
    );
    let request = RotateRequest {
        family_id: &family_id,
        presented: &presented_hash,
        next: &next.sha256,
        sealed_next: &sealed_next,
        client_id: client.map(|c| c.id.as_str()),
        now: state.clock.now().unix_timestamp(),
        idle_ttl_secs: state.settings.refresh_idle_ttl.as_secs() as i64,
        grace_secs: state.settings.refresh_grace.as_secs() as i64,
    };
    let (family, token) = match state.stores.families.rotate(request).await? {
        Rotation::Rotated(family) => (family, next),
        Rotation::Grace(family, sealed) => {
            let token = unseal(state, &family.id, &sealed).ok_or(INVALID)?;
            tracing::info!(sid = %family.id, "refresh retried within the grace window");
            (family, token)
        }
        Rotation::Reused(family) => {
            reuse_detected(state, &family, ip).await;
            return Err(INVALID);
        }
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
    let scope = narrowed_scope(&family, scope)?;
    // the user's record is only needed for ID-token claims; a deleted user's sessions are
    // revoked with the user, so the family alone vouches for the access token
    let user = if scope.contains("openid") {
        Some(
            state
                .stores
                .users
                .find_user(family.user_id)
                .await?
                .ok_or(INVALID)?,
        )
    } else {
        None
    };
    let tokens = user_tokens(state, &client, user.as_ref(), &scope, &family, Some(&token))?;
    crate::metrics::token_issued("refresh_token");
    Ok(tokens)
}

fn unseal(state: &AppState, family_id: &str, sealed: &str) -> Option<RefreshToken> {
    let bytes = STANDARD.decode(sealed).ok()?;
    let plain = state.settings.kek.open(&bytes, family_id.as_bytes()).ok()?;
    let token = String::from_utf8(plain).ok()?;
    let (_, sha256) = refresh::parse(&token)?;
    Some(RefreshToken {
        token: token.into(),
        family_id: family_id.to_owned(),
        sha256,
    })
}

fn narrowed_scope(family: &Family, requested: Option<&str>) -> Result<Scope, OAuthError> {
    let granted = Scope::parse(&family.scope).map_err(|_| INVALID)?;
    match requested {
        None => Ok(granted),
        Some(text) => {
            let narrower = Scope::parse(text).map_err(|e| OAuthError::InvalidScope(e.into()))?;
            if narrower.is_subset(&granted) {
                Ok(narrower)
            } else {
                Err(OAuthError::InvalidScope(
                    "scope exceeds the original grant".into(),
                ))
            }
        }
    }
}

/// The family is already deleted (so its access tokens introspect inactive); record it.
async fn reuse_detected(state: &AppState, family: &Family, ip: Option<String>) {
    tracing::warn!(sid = %family.id, user_id = %family.user_id, client_id = %family.client_id, "refresh token reuse: session revoked");
    crate::metrics::reuse_detected();
    let event = AuditEvent::new("refresh_token_reuse", "revoked")
        .user(family.user_id)
        .client(family.client_id.clone())
        .ip(ip)
        .detail(serde_json::json!({ "family": family.id }));
    crate::audit::record(state, event).await;
}

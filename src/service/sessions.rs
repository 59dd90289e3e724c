//! A user's sessions (SPEC S6): listing them, ending one, and logging out of the cookie
//! session (the refresh family and the presented access token end at once).

use crate::domain::User;
use crate::state::AppState;
use crate::store::{SessionInfo, StoreError};
use crate::tokens::{refresh, AccessClaims};

/// The user's live sessions, newest first.
pub async fn list(state: &AppState, user: &User) -> Result<Vec<SessionInfo>, StoreError> {
    state.stores.families.list_sessions(user.id).await
}

/// The user's browser sign-ins on the hosted pages (SSO sessions), newest first.
pub async fn list_sign_ins(
    state: &AppState,
    user: &User,
) -> Result<Vec<crate::store::SsoSession>, StoreError> {
    state.stores.sso.list_sso(user.id).await
}

/// Ends one of the user's sessions, or one of their browser sign-ins with every session
/// started under it; `Ok(false)` when the user has neither with that id (someone else's
/// id is as unknown as a made-up one).
pub async fn end(state: &AppState, user: &User, id: &str) -> Result<bool, StoreError> {
    if id.len() > 64 {
        return Ok(false);
    }
    if let Some(family) = state.stores.families.find_family(id).await? {
        if family.user_id != user.id {
            return Ok(false);
        }
        state.stores.families.revoke_family(id, None).await?;
        tracing::info!(sid = %id, user_id = %user.id, "session ended by its user");
        return Ok(true);
    }
    match state.stores.sso.find_sso(id).await? {
        Some(sso) if sso.user_id == user.id => {
            for family in state.stores.sso.end_sso(id).await? {
                state.stores.families.revoke_family(&family, None).await?;
            }
            tracing::info!(user_id = %user.id, "browser sign-in ended by its user");
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Logs out: the presented access token stops working now (not at its expiry) and the
/// refresh token's family ends. Either may be absent; logging out twice is fine.
pub async fn logout(
    state: &AppState,
    access: Option<&AccessClaims>,
    refresh_token: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(claims) = access {
        super::revocations::blocklist(state, claims).await?;
    }
    if let Some(presented) = refresh_token.and_then(refresh::parse) {
        if state
            .stores
            .families
            .revoke_family(&presented.sid, None)
            .await?
        {
            tracing::info!(sid = %presented.sid, "session ended");
        }
    }
    Ok(())
}

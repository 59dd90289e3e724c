//! A user's sessions (book § Endpoints): listing them, ending one, and logging out of the cookie
//! session (the refresh family and the presented access token end at once). Every way a
//! session or an access token ends goes through here, so each end reaches the revocation
//! feed; `service::revocations` (RFC 7009) calls down into it, never the other way.

use crate::domain::User;
use crate::state::AppState;
use crate::store::{Ended, SessionInfo, StoreError};
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

/// Tells the revocation feed that the `ended` sessions ended now.
pub async fn feed_ended(state: &AppState, ended: &[Ended]) -> Result<(), StoreError> {
    let now = state.clock.now();
    super::feed::sessions_ended(&state.stores, &state.settings, ended, None, now).await
}

/// Ends a session (refresh family), with `owner` only if that client owns it, and tells
/// the revocation feed; whether it was alive.
pub async fn end_family(
    state: &AppState,
    id: &crate::domain::FamilyId,
    owner: Option<&str>,
) -> Result<bool, StoreError> {
    let ended = state.stores.families.revoke_family(id, owner).await?;
    let ended: Vec<Ended> = ended.into_iter().collect();
    feed_ended(state, &ended).await?;
    Ok(!ended.is_empty())
}

/// Ends every session started under a browser sign-in, and the sign-in; one feed write
/// for all of them. How many sessions were alive.
pub async fn end_sso(state: &AppState, sso_id: &str) -> Result<usize, StoreError> {
    let mut ended = Vec::new();
    for family in state.stores.sso.end_sso(sso_id).await? {
        ended.extend(state.stores.families.revoke_family(&family, None).await?);
    }
    feed_ended(state, &ended).await?;
    Ok(ended.len())
}

/// Ends one of the user's sessions, or one of their browser sign-ins with every session
/// started under it; `Ok(false)` when the user has neither with that id (someone else's
/// id is as unknown as a made-up one).
pub async fn end(state: &AppState, user: &User, id: &str) -> Result<bool, StoreError> {
    if id.len() > 64 {
        return Ok(false);
    }
    if let Some(family) = state
        .stores
        .families
        .find_family(&id.to_owned().into())
        .await?
    {
        if family.user_id != user.id {
            return Ok(false);
        }
        end_family(state, &family.id, None).await?;
        tracing::info!(sid = %id, user_id = %user.id, "session ended by its user");
        return Ok(true);
    }
    match state.stores.sso.find_sso(id).await? {
        Some(sso) if sso.user_id == user.id => {
            end_sso(state, id).await?;
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
        blocklist(state, claims).await?;
    }
    if let Some(presented) = refresh_token.and_then(refresh::parse) {
        if end_family(state, &presented.sid, None).await? {
            tracing::info!(sid = %presented.sid, "session ended");
        }
    }
    Ok(())
}

/// Blocklists an access token for the rest of its lifetime.
pub async fn blocklist(state: &AppState, claims: &AccessClaims) -> Result<(), StoreError> {
    let remaining = claims.exp + state.settings.clock_leeway.as_secs() as i64
        - state.clock.now().unix_timestamp();
    if let Ok(remaining @ 1..) = u64::try_from(remaining) {
        state
            .stores
            .revocations
            .blocklist(&claims.jti, std::time::Duration::from_secs(remaining))
            .await?;
        let now = state.clock.now();
        super::feed::token_revoked(&state.stores, &state.settings, claims, now).await?;
    }
    Ok(())
}

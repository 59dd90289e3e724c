//! The mfa-otp grant (SPEC S5 `urn:tessera:grant-type:mfa-otp`, S8) and the SPA's
//! `POST /api/v1/session/mfa`: the second step of a password login.

use serde_json::json;

use crate::domain::{Client, ClientId, OAuthError, Scope};
use crate::service::abuse;
use crate::state::AppState;
use crate::store::{AuditEvent, SessionMeta};

use super::{start_session, TokenResponse};

/// `grant_type=urn:tessera:grant-type:mfa-otp` (SPEC S5) and the SPA's
/// `POST /api/v1/session/mfa`: completes a password login with a TOTP code or a recovery
/// code. Wrong codes count toward the account's lockout; the MFA token is used up only by
/// a success, so a typo does not restart the login. With `client` (the token endpoint) the
/// login must be that client's; without (the SPA endpoint) it continues with the client
/// the password login used.
pub async fn grant(
    state: &AppState,
    client: Option<&Client>,
    mfa_token: &str,
    otp: Option<&str>,
    recovery_code: Option<&str>,
    ip: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    const INVALID: OAuthError = OAuthError::InvalidGrant("mfa_token is invalid or expired");
    let pending = crate::service::mfa::peek_mfa_token(state, mfa_token)
        .await?
        .ok_or(INVALID)?;
    let client = match client {
        Some(c) if c.id.as_str() == pending.client_id => c.clone(),
        Some(_) => return Err(INVALID),
        None => {
            let id = ClientId::parse(&pending.client_id).map_err(|_| INVALID)?;
            crate::service::clients::spa_client(&state.stores, &id)
                .await?
                .ok_or(INVALID)?
        }
    };
    let client = &client;
    // a password change or reset since the password step voids the pending login
    let user = state
        .stores
        .users
        .find_user(pending.user_id)
        .await?
        .filter(|u| crate::service::mfa::password_fingerprint(u) == pending.password)
        .ok_or(INVALID)?;
    abuse::login_attempt(state, &user.email, ip.as_deref()).await?;
    match crate::service::mfa::verify(state, &user, otp, recovery_code).await {
        Ok(()) => {}
        Err(crate::service::mfa::MfaError::Store(e)) => return Err(e.into()),
        Err(_) => {
            crate::metrics::login_failed("wrong_otp");
            let event = AuditEvent::new("mfa_failed", "denied")
                .user(user.id)
                .client(client.id.as_str())
                .ip(ip);
            crate::service::audit::record(state, event).await;
            return Err(OAuthError::InvalidGrant("the code is not valid"));
        }
    }
    if !crate::service::mfa::take_mfa_token(state, mfa_token).await? {
        return Err(INVALID);
    }
    abuse::login_succeeded(state, &user.email, ip.as_deref()).await;
    let scope = Scope::parse(&pending.scope)
        .map_err(|_| OAuthError::InvalidScope("the login's scope is no longer valid".into()))?;
    let meta = SessionMeta {
        ip: pending.ip.clone(),
        user_agent: pending.user_agent.clone(),
    };
    let amr = vec!["pwd".to_owned(), "otp".to_owned()];
    let tokens = start_session(state, client, &user, &scope, amr, &meta).await?;
    crate::metrics::token_issued("mfa_otp");
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(client.id.as_str())
        .ip(meta.ip)
        .detail(json!({ "amr": ["pwd", "otp"] }));
    crate::service::audit::record(state, event).await;
    Ok(tokens)
}

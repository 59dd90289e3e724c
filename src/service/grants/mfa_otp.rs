//! The mfa-otp grant (`urn:tessera:grant-type:mfa-otp`, RFC 6238 codes; README § Endpoints) and the SPA's
//! `POST /api/v1/session/mfa`: the second step of a password login.

use serde_json::json;

use crate::domain::{Client, ClientId, OAuthError, Scope};
use crate::service::abuse;
use crate::state::AppState;
use crate::store::{AuditEvent, SessionMeta};

use super::{start_session, TokenResponse};

const INVALID: OAuthError = OAuthError::InvalidGrant("mfa_token is invalid or expired");

/// The refusal of a wrong one-time or recovery code (the `mfa_token` stays usable): the
/// hosted second-factor page tells it apart from an expired sign-in by this very value, so
/// rewording it cannot turn a mistyped code into "sign-in expired".
pub const WRONG_CODE: &str = "the code is not valid";

/// The second step of a password login: the pending login of `mfa_token` (which must be
/// `client_id`'s when given), a valid TOTP or recovery code, and the token used up. Wrong
/// codes count toward the account's lockout and are audited.
pub async fn second_factor(
    state: &AppState,
    client_id: Option<&str>,
    mfa_token: &str,
    otp: Option<&str>,
    recovery_code: Option<&str>,
    ip: Option<String>,
) -> Result<(crate::domain::User, crate::service::mfa::PendingLogin), OAuthError> {
    let pending = crate::service::mfa::peek_mfa_token(state, mfa_token)
        .await?
        .ok_or(INVALID)?;
    if client_id.is_some_and(|id| id != pending.client_id) {
        return Err(INVALID);
    }
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
                .client(pending.client_id.as_str())
                .ip(ip);
            crate::service::audit::record(state, event).await;
            return Err(OAuthError::InvalidGrant(WRONG_CODE));
        }
    }
    if !crate::service::mfa::take_mfa_token(state, mfa_token).await? {
        return Err(INVALID);
    }
    abuse::login_succeeded(state, &user.email, ip.as_deref()).await;
    Ok((user, pending))
}

/// `grant_type=urn:tessera:grant-type:mfa-otp` (RFC 6749, README § Endpoints) and the SPA's
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
    let (user, pending) = second_factor(
        state,
        client.map(|c| c.id.as_str()),
        mfa_token,
        otp,
        recovery_code,
        ip,
    )
    .await?;
    let client = match client {
        Some(c) => c.clone(),
        None => {
            let id = ClientId::parse(&pending.client_id).map_err(|_| INVALID)?;
            crate::service::clients::spa_client(&state.stores, &id)
                .await?
                .ok_or(INVALID)?
        }
    };
    let client = &client;
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

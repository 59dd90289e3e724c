//! The mfa-otp grant (`urn:tessera:grant-type:mfa-otp`, RFC 6238 codes; book § Endpoints) and the SPA's
//! `POST /api/v1/session/mfa`: the second step of a password login, checked by
//! `signin::authenticate::Authenticator::second_factor` (the hosted second-factor page's check too).

use serde_json::json;

use super::Grants;
use crate::domain::{Client, ClientId, OAuthError, Scope};
use crate::service::signin::authenticate::SecondFactorError;
use crate::store::{AuditEvent, SessionMeta};

use super::{start_session, TokenResponse};

const INVALID: OAuthError = OAuthError::InvalidGrant("mfa_token is invalid or expired");

impl From<SecondFactorError> for OAuthError {
    fn from(e: SecondFactorError) -> Self {
        match e {
            SecondFactorError::Expired => INVALID,
            SecondFactorError::WrongCode => OAuthError::InvalidGrant("the code is not valid"),
            SecondFactorError::Refused(e) => e,
        }
    }
}

/// `grant_type=urn:tessera:grant-type:mfa-otp` (RFC 6749, book § Endpoints) and the SPA's
/// `POST /api/v1/session/mfa`: completes a password login with a TOTP code or a recovery
/// code. Wrong codes count toward the account's lockout; the MFA token is used up only by
/// a success, so a typo does not restart the login. With `client` (the token endpoint) the
/// login must be that client's; without (the SPA endpoint) it continues with the client
/// the password login used.
pub async fn grant(
    grants: &Grants,
    client: Option<&Client>,
    mfa_token: &str,
    otp: Option<&str>,
    recovery_code: Option<&str>,
    ip: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let (user, pending) = grants
        .authenticator
        .second_factor(
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
            crate::service::clients::spa_client(grants.clients.as_ref(), &id)
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
    let families = grants.families.as_ref();
    let tokens = start_session(&grants.issuer, families, client, &user, &scope, amr, &meta).await?;
    crate::metrics::token_issued("mfa_otp");
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(client.id.as_str())
        .ip(meta.ip)
        .detail(json!({ "amr": ["pwd", "otp"] }));
    grants.audit.record(event).await;
    Ok(tokens)
}

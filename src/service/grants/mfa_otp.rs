//! The mfa-otp grant (`urn:tessera:grant-type:mfa-otp`, RFC 6238 codes; book § Endpoints) and the SPA's
//! `POST /api/v1/session/mfa` (a code or a passkey): the second step of a password login,
//! checked by `signin::authenticate::Authenticator::second_factor` (the hosted
//! second-factor page's check too).

use super::Grants;
use crate::domain::{Client, ClientId, OAuthError, Scope};
use crate::service::signin::authenticate::{Proof, SecondFactorError, TwoFactors};
use crate::store::SessionMeta;

use super::TokenResponse;

const INVALID: OAuthError = OAuthError::InvalidGrant("mfa_token is invalid or expired");

impl From<SecondFactorError> for OAuthError {
    fn from(e: SecondFactorError) -> Self {
        match e {
            SecondFactorError::Expired => INVALID,
            SecondFactorError::WrongCode => OAuthError::InvalidGrant("the code is not valid"),
            SecondFactorError::WrongPasskey => {
                OAuthError::InvalidGrant("the passkey did not sign the user in")
            }
            SecondFactorError::Refused(e) => e,
        }
    }
}

/// `grant_type=urn:tessera:grant-type:mfa-otp` (RFC 6749, book § Endpoints) and the SPA's
/// `POST /api/v1/session/mfa`: completes a password login with a TOTP code, a recovery
/// code or (the SPA's) a passkey. A refused proof counts toward the account's lockout; the
/// MFA token is used up only by a success, so a typo does not restart the login. With
/// `client` (the token endpoint) the login must be that client's; without (the SPA
/// endpoint) it continues with the client the password login used.
pub async fn grant(
    grants: &Grants,
    client: Option<&Client>,
    mfa_token: &str,
    proof: Proof<'_>,
    ip: Option<String>,
    dpop_jkt: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let TwoFactors { user, pending, amr } = grants
        .authenticator
        .second_factor(client.map(|c| c.id.as_str()), mfa_token, proof, ip)
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
    let scope = Scope::parse(&pending.scope)
        .map_err(|_| OAuthError::InvalidScope("the login's scope is no longer valid".into()))?;
    let meta = SessionMeta {
        ip: pending.ip,
        user_agent: pending.user_agent,
        dpop_jkt,
    };
    let how = match proof {
        Proof::Code { .. } => "mfa_otp",
        Proof::Passkey { .. } => "mfa_passkey",
    };
    super::password::signed_in(grants, &client, &user, &scope, amr, &meta, how).await
}

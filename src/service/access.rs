//! Who a bearer access token speaks for (RFC 6750, RFC 9068, book § Endpoints): a verified, unrevoked token
//! of a user that still exists; for the account API also minted for tessera itself by a
//! first-party client, so a token meant for another service cannot manage the account.

use crate::domain::User;
use crate::state::AppState;
use crate::store::StoreError;
use crate::tokens::AccessClaims;

/// Why a bearer token was refused (RFC 6750 §3: all are `invalid_token`).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the access token is invalid or expired")]
    Invalid,
    /// The token is fine but belongs to a client, not a user.
    #[error("the access token does not belong to a user")]
    NotAUser,
    /// A user's token minted for another API or by a third-party client (book § Endpoints).
    #[error("the access token is not meant for the account API")]
    NotForAccountApi,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user's verified token and the user.
#[derive(Debug)]
pub struct TokenUser {
    pub claims: AccessClaims,
    pub user: User,
}

/// The claims of an active (verified and not revoked) token of a user.
pub async fn user_claims(state: &AppState, token: &str) -> Result<AccessClaims, AccessError> {
    let claims = super::revocations::active_access_token(state, token)
        .await?
        .ok_or(AccessError::Invalid)?;
    if claims.sid.is_none() {
        return Err(AccessError::NotAUser);
    }
    Ok(claims)
}

/// The token's claims and its user (a deleted user's token is invalid).
pub async fn token_user(state: &AppState, token: &str) -> Result<TokenUser, AccessError> {
    let claims = user_claims(state, token).await?;
    let user = user_of(state, &claims).await?;
    Ok(TokenUser { claims, user })
}

/// The user behind a token for the account API (`/api/v1/me*`): its `aud` includes the
/// issuer and its client is still first-party; checked before the user is loaded.
pub async fn account_user(state: &AppState, token: &str) -> Result<TokenUser, AccessError> {
    let claims = user_claims(state, token).await?;
    if !claims.aud.0.iter().any(|aud| *aud == state.settings.issuer) {
        return Err(AccessError::NotForAccountApi);
    }
    if !super::clients::is_first_party(&state.stores, &claims.client_id).await? {
        return Err(AccessError::NotForAccountApi);
    }
    let user = user_of(state, &claims).await?;
    Ok(TokenUser { claims, user })
}

async fn user_of(state: &AppState, claims: &AccessClaims) -> Result<User, AccessError> {
    let id = claims.sub.parse().map_err(|_| AccessError::Invalid)?;
    state
        .stores
        .users
        .find_user(id)
        .await?
        .ok_or(AccessError::Invalid)
}

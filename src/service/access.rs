//! Who a bearer access token speaks for (RFC 6750, RFC 9068, book § Endpoints): a verified, unrevoked token
//! of a user that still exists; for the account API also minted for tessera itself by a
//! first-party client, so a token meant for another service cannot manage the account.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::User;
use crate::domain::UserId;
use crate::store::{ClientStore, RevocationStore, StoreError, Stores, UserStore};
use crate::tokens::{AccessClaims, KeyRing, VerifiedTokens};

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

/// Checks bearer access tokens: the key ring and the revocation state, with the cache of
/// tokens whose signature verified (it lives here, with the only check that reads it).
pub struct AccessCheck {
    keyring: Arc<KeyRing>,
    verified: VerifiedTokens,
    revocations: Arc<dyn RevocationStore>,
    clients: Arc<dyn ClientStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    /// `iss` every token must carry; also the audience of the account API.
    issuer: String,
    /// Allowed clock skew for `nbf`.
    leeway: std::time::Duration,
}

impl AccessCheck {
    /// `cache`: how many verified tokens are remembered (0: none).
    pub fn new(
        keyring: Arc<KeyRing>,
        stores: &Stores,
        clock: Arc<dyn Clock>,
        settings: &Settings,
    ) -> Self {
        AccessCheck {
            keyring,
            verified: VerifiedTokens::new(settings.verified_token_cache),
            revocations: stores.revocations.clone(),
            clients: stores.clients.clone(),
            users: stores.users.clone(),
            clock,
            issuer: settings.issuer.clone(),
            leeway: settings.clock_leeway,
        }
    }

    /// The claims of an active access token, or `None` if it is invalid or revoked: its
    /// signature, type, issuer and times verify, its `jti` is not blocklisted, its session
    /// (refresh family) still exists, and it was issued after its user's cutoff.
    pub async fn active(&self, token: &str) -> Result<Option<AccessClaims>, StoreError> {
        let now = self.clock.now();
        let expected = crate::tokens::Expected {
            issuer: &self.issuer,
            nbf_leeway_secs: self.leeway.as_secs() as i64,
            now: now.unix_timestamp(),
        };
        let claims = match self.verified.verify(&self.keyring, token, &expected) {
            Ok(claims) => claims,
            Err(reason) => {
                tracing::debug!(%reason, "access token refused");
                return Ok(None);
            }
        };
        let user = claims
            .sid
            .as_ref()
            .and_then(|_| claims.sub.parse::<UserId>().ok());
        let status = self
            .revocations
            .token_state(&claims.jti, claims.sid.as_deref(), user, now)
            .await?;
        let revoked = status.blocklisted
            || status.session_alive == Some(false)
            || status
                .cutoff
                .is_some_and(|cutoff| claims.iat < cutoff.unix_timestamp());
        if revoked {
            return Ok(None);
        }
        // a client's own token (no session) lives only as long as the client: deleting a
        // client must end its client_credentials tokens as it ends its users' sessions
        if claims.sid.is_none() {
            let exists = match crate::domain::ClientId::parse(&claims.client_id) {
                Ok(id) => self.clients.find_client(&id).await?.is_some(),
                Err(_) => false,
            };
            if !exists {
                return Ok(None);
            }
        }
        Ok(Some(claims))
    }

    /// The claims of an active (verified and not revoked) token of a user.
    pub async fn user_claims(&self, token: &str) -> Result<AccessClaims, AccessError> {
        let claims = self.active(token).await?.ok_or(AccessError::Invalid)?;
        if claims.sid.is_none() {
            return Err(AccessError::NotAUser);
        }
        Ok(claims)
    }

    /// The token's claims and its user (a deleted user's token is invalid).
    pub async fn token_user(&self, token: &str) -> Result<TokenUser, AccessError> {
        let claims = self.user_claims(token).await?;
        let user = self.user_of(&claims).await?;
        Ok(TokenUser { claims, user })
    }

    /// The user behind a token for the account API (`/api/v1/me*`): its `aud` includes
    /// the issuer and its client is still first-party; checked before the user is loaded.
    pub async fn account_user(&self, token: &str) -> Result<TokenUser, AccessError> {
        let claims = self.user_claims(token).await?;
        if !claims.aud.0.contains(&self.issuer) {
            return Err(AccessError::NotForAccountApi);
        }
        let first_party = match crate::domain::ClientId::parse(&claims.client_id) {
            Ok(id) => self
                .clients
                .find_client(&id)
                .await?
                .is_some_and(|c| c.first_party),
            Err(_) => false,
        };
        if !first_party {
            return Err(AccessError::NotForAccountApi);
        }
        let user = self.user_of(&claims).await?;
        Ok(TokenUser { claims, user })
    }

    async fn user_of(&self, claims: &AccessClaims) -> Result<User, AccessError> {
        let id = claims.sub.parse().map_err(|_| AccessError::Invalid)?;
        self.users.find_user(id).await?.ok_or(AccessError::Invalid)
    }
}

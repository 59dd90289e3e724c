//! Bearer access tokens on resource endpoints (RFC 6750): userinfo and `/api/v1/me`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::http::error::ErrorBody;
use crate::state::AppState;
use crate::tokens::AccessClaims;

/// Why a bearer request was refused (RFC 6750 §3).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No credentials at all: challenge without an error code.
    #[error("missing bearer token")]
    Missing,
    #[error("invalid_token")]
    Invalid,
    /// The token is fine but belongs to a client, not a user.
    #[error("invalid_token")]
    NotAUser,
    /// A user's token minted for another API or by a third-party client: not for the
    /// account API (SPEC S6).
    #[error("invalid_token")]
    NotForAccountApi,
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        let challenge = match self {
            Self::Missing => "Bearer realm=\"tessera\"".to_owned(),
            Self::Invalid => "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"the access token is invalid or expired\"".to_owned(),
            Self::NotAUser => "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"the access token does not belong to a user\"".to_owned(),
            Self::NotForAccountApi => "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"the access token is not meant for the account API\"".to_owned(),
        };
        let (error, description) = match self {
            Self::Missing => ("unauthorized", "a bearer access token is required"),
            Self::Invalid => ("invalid_token", "the access token is invalid or expired"),
            Self::NotAUser => (
                "invalid_token",
                "the access token does not belong to a user",
            ),
            Self::NotForAccountApi => (
                "invalid_token",
                "the access token is not meant for the account API",
            ),
        };
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ErrorBody {
                error: error.into(),
                error_description: description.into(),
                fields: Vec::new(),
            })
    }
}

/// The active (verified and not revoked) bearer token of a user.
pub async fn user_claims(
    req: &HttpRequest,
    state: &AppState,
) -> Result<AccessClaims, ResourceError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or(BearerError::Invalid)?;
    let claims = crate::service::revocations::active_access_token(state, token)
        .await
        .map_err(crate::http::error::ApiError::from)?
        .ok_or(BearerError::Invalid)?;
    if claims.sid.is_none() {
        return Err(BearerError::NotAUser.into());
    }
    Ok(claims)
}

/// Errors of resource endpoints that need the token's user.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Bearer(#[from] BearerError),
    #[error(transparent)]
    Api(#[from] crate::http::error::ApiError),
}

impl ResponseError for ResourceError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Bearer(e) => e.status_code(),
            Self::Api(e) => e.status_code(),
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Bearer(e) => e.error_response(),
            Self::Api(e) => e.error_response(),
        }
    }
}

/// The verified claims and the user they belong to (a deleted user's token is invalid).
pub async fn token_user(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(AccessClaims, crate::domain::User), ResourceError> {
    let claims = user_claims(req, state).await?;
    let user = user_of(&claims, state).await?;
    Ok((claims, user))
}

async fn user_of(
    claims: &AccessClaims,
    state: &AppState,
) -> Result<crate::domain::User, ResourceError> {
    let id = claims.sub.parse().map_err(|_| BearerError::Invalid)?;
    Ok(state
        .stores
        .users
        .find_user(id)
        .await
        .map_err(crate::http::error::ApiError::from)?
        .ok_or(BearerError::Invalid)?)
}

/// The user behind a token for the account API (`/api/v1/me*`, SPEC S6): its `aud` must
/// include the issuer and it must have been issued to a first-party client, so a token
/// minted for another service (or by a third-party app) cannot manage the account.
pub async fn account_user(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(AccessClaims, crate::domain::User), ResourceError> {
    let claims = user_claims(req, state).await?;
    if !claims.aud.0.iter().any(|aud| *aud == state.settings.issuer) {
        return Err(BearerError::NotForAccountApi.into());
    }
    let client_id =
        crate::domain::ClientId::parse(&claims.client_id).map_err(|_| BearerError::Invalid)?;
    let first_party = state
        .stores
        .clients
        .find_client(&client_id)
        .await
        .map_err(crate::http::error::ApiError::from)?
        .is_some_and(|c| c.first_party);
    if !first_party {
        return Err(BearerError::NotForAccountApi.into());
    }
    let user = user_of(&claims, state).await?;
    Ok((claims, user))
}

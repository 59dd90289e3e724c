//! Bearer access tokens on resource endpoints (RFC 6750) as extractors: `TokenUser` for
//! userinfo, `AccountUser` for the account API (`/api/v1/me*`, book § Endpoints). The service decides
//! whether the token is good; this file only reads it from the request.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::{ApiError, BearerError, ResourceError};
use crate::service::access::{self, TokenUser};
use crate::state::AppState;

/// The token in `Authorization: Bearer …` (RFC 6750 §2.1).
pub(super) fn bearer_token(req: &HttpRequest) -> Result<String, BearerError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?;
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .ok_or(BearerError::Refused(access::AccessError::Invalid))
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ResourceError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")).into())
}

/// The claims of a user's active bearer token, if the request carries one.
pub async fn user_claims(
    req: &HttpRequest,
    state: &AppState,
) -> Result<crate::tokens::AccessClaims, ResourceError> {
    let token = bearer_token(req)?;
    Ok(state.access.user_claims(&token).await?)
}

/// A user's verified token and the user; with `ACCOUNT_API` the token must also be fit for
/// the account API. Handlers name it by the aliases below.
pub struct Bearer<const ACCOUNT_API: bool>(pub TokenUser);

/// Any user's active token (userinfo).
pub type BearerUser = Bearer<false>;
/// A token fit for the account API (`/api/v1/me*`).
pub type AccountUser = Bearer<true>;

impl<const ACCOUNT_API: bool> FromRequest for Bearer<ACCOUNT_API> {
    type Error = ResourceError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let token = bearer_token(&req)?;
            let user = if ACCOUNT_API {
                state.access.account_user(&token).await?
            } else {
                state.access.token_user(&token).await?
            };
            Ok(Bearer(user))
        })
    }
}

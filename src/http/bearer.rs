//! Access tokens on resource endpoints as extractors: `TokenUser` for userinfo,
//! `AccountUser` for the account API (`/api/v1/me*`, book § Endpoints). A token arrives as
//! `Authorization: Bearer` (RFC 6750) or, bound to a key, as `Authorization: DPoP` with a
//! proof by that key (RFC 9449 §7); a DPoP-bound token presented as a bearer token is
//! refused. The service decides whether the token is good.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::{ApiError, BearerError, DpopRefusal, ResourceError};
use crate::service::access::{self, TokenUser};
use crate::service::dpop::DpopError;
use crate::state::AppState;

/// How a request presented its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Presented {
    Bearer(String),
    /// `Authorization: DPoP`: the token, with the `DPoP` header's proof to check.
    Dpop(String),
}

impl Presented {
    pub(super) fn token(&self) -> &str {
        match self {
            Presented::Bearer(t) | Presented::Dpop(t) => t,
        }
    }
}

/// The token in `Authorization: Bearer …` (RFC 6750 §2.1) or `Authorization: DPoP …`
/// (RFC 9449 §7.1); the scheme's case does not matter.
pub(super) fn presented_token(req: &HttpRequest) -> Result<Presented, BearerError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?;
    let (scheme, token) = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .map(|(scheme, token)| (scheme, token.trim().to_owned()))
        .filter(|(_, token)| !token.is_empty())
        .ok_or(BearerError::Refused(access::AccessError::Invalid))?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok(Presented::Bearer(token))
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Ok(Presented::Dpop(token))
    } else {
        Err(BearerError::Refused(access::AccessError::Invalid))
    }
}

/// Checks that the token was presented as its binding asks: a DPoP-bound token (`cnf.jkt`)
/// with a proof by its key, any other token as a bearer token.
pub(super) async fn check_binding(
    req: &HttpRequest,
    state: &AppState,
    presented: &Presented,
    claims: &crate::tokens::AccessClaims,
) -> Result<(), ResourceError> {
    let bound = claims.cnf.as_ref().map(|c| c.jkt.as_str());
    match (presented, bound) {
        (Presented::Bearer(_), None) => Ok(()),
        (Presented::Bearer(_), Some(_)) => Err(BearerError::Dpop(DpopRefusal::BoundToken).into()),
        (Presented::Dpop(_), None) => Err(BearerError::Dpop(DpopRefusal::NotBound).into()),
        (Presented::Dpop(token), Some(jkt)) => {
            let proof = super::dpop::proof(req, state, Some(token))
                .await
                .map_err(|e| match e {
                    DpopError::Invalid(d) => BearerError::Dpop(DpopRefusal::Proof(d)).into(),
                    DpopError::Nonce(n) => BearerError::Dpop(DpopRefusal::Nonce(n)).into(),
                    DpopError::Store(e) => ResourceError::Api(e.into()),
                })?
                .ok_or(BearerError::Dpop(DpopRefusal::Proof(
                    "a DPoP proof is required with Authorization: DPoP".into(),
                )))?;
            if proof.jkt == jkt {
                Ok(())
            } else {
                Err(BearerError::Dpop(DpopRefusal::Proof(
                    "the DPoP proof is not signed by the key the token is bound to".into(),
                ))
                .into())
            }
        }
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ResourceError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")).into())
}

/// The claims of a user's active access token, if the request carries one, presented as
/// its binding asks.
pub async fn user_claims(
    req: &HttpRequest,
    state: &AppState,
) -> Result<crate::tokens::AccessClaims, ResourceError> {
    let presented = presented_token(req)?;
    let claims = state.access.user_claims(presented.token()).await?;
    check_binding(req, state, &presented, &claims).await?;
    Ok(claims)
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
            let presented = presented_token(&req)?;
            let token = presented.token();
            let user = if ACCOUNT_API {
                state.access.account_user(token).await?
            } else {
                state.access.token_user(token).await?
            };
            check_binding(&req, &state, &presented, &user.claims).await?;
            Ok(Bearer(user))
        })
    }
}

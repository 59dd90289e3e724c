//! The signed-in user's links to upstream providers (book § Upstream providers):
//! `GET /api/v1/me/identities`, `POST /api/v1/me/identities` (begin linking one),
//! `DELETE /api/v1/me/identities/{id}` (never the last way to sign in).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::{AccountUser, Bearer};
use super::error::{ApiError, ResourceError};
use crate::service::upstream::{Purpose, UpstreamError};
use crate::state::AppState;
use crate::store::Unlinked;

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    /// Unlink it with `DELETE /api/v1/me/identities/{id}`.
    pub id: String,
    /// The provider's id.
    pub provider: String,
    /// The provider's subject for the user.
    pub subject: String,
    /// The email the provider gave when the link was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Unix seconds.
    pub linked_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityList {
    pub identities: Vec<IdentityView>,
}

impl From<Vec<crate::store::Identity>> for IdentityList {
    fn from(links: Vec<crate::store::Identity>) -> Self {
        let identities = links
            .into_iter()
            .map(|i| IdentityView {
                id: i.id,
                provider: i.provider.to_string(),
                subject: i.subject,
                email: i.email,
                linked_at: i.linked_at.unix_timestamp(),
            })
            .collect();
        IdentityList { identities }
    }
}

/// The provider to link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// An enabled provider's id.
    pub provider: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkStarted {
    /// Open it in the browser signed in to this account on tessera's pages; the link is
    /// made when the provider sends the browser back (within ten minutes).
    pub authorization_url: String,
}

/// The caller's links to upstream providers, oldest first.
#[utoipa::path(get, path = "/api/v1/me/identities", tag = "session",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{identities: [{id, provider, subject, email, linked_at}]}`", body = IdentityList),
        crate::http::error::responses::AccountTokenRefused))]
pub async fn list(
    state: web::Data<AppState>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let links = state
        .upstreams
        .identities(session.user.id)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(IdentityList::from(links)))
}

/// Begins linking a provider to the caller's account: the URL to open in the browser
/// that is signed in to this account on tessera's pages.
#[utoipa::path(post, path = "/api/v1/me/identities", tag = "session",
    security(("bearer" = [])),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "Where to send the browser", body = LinkStarted),
        crate::http::error::responses::AccountTokenRefused,
        (status = 404, description = "No enabled provider with this id", body = crate::http::error::ErrorBody),
        (status = 503, description = "The provider could not be reached; retry later", body = crate::http::error::ErrorBody)))]
pub async fn link(
    state: web::Data<AppState>,
    body: web::Json<LinkRequest>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let purpose = Purpose::Link {
        user: session.user.id,
    };
    let begun = state.upstreams.begin(&body.provider, purpose).await;
    let authorization_url = match begun {
        Ok(url) => url,
        Err(UpstreamError::Unknown) => return Err(ApiError::NotFound.into()),
        Err(UpstreamError::Store(e)) => return Err(ApiError::from(e).into()),
        Err(_) => return Err(ApiError::Unavailable("upstream").into()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(LinkStarted { authorization_url }))
}

/// Unlinks a provider from the caller's account, unless it is the last way to sign in
/// (no password, no passkey, no other link).
#[utoipa::path(delete, path = "/api/v1/me/identities/{id}", tag = "session",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The link's id")),
    responses(
        (status = 204, description = "Unlinked"),
        crate::http::error::responses::AccountTokenRefused,
        (status = 404, description = "No such link of this user", body = crate::http::error::ErrorBody),
        (status = 409, description = "`last_sign_in_method`: the account has no other way to sign in", body = crate::http::error::ErrorBody)))]
pub async fn unlink(
    state: web::Data<AppState>,
    id: web::Path<String>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    if id.len() > 64 {
        return Err(ApiError::NotFound.into());
    }
    let unlinked = state
        .upstreams
        .unlink(session.user.id, &id)
        .await
        .map_err(ApiError::from)?;
    match unlinked {
        Unlinked::Done => Ok(HttpResponse::NoContent().finish()),
        Unlinked::NotFound => Err(ApiError::NotFound.into()),
        Unlinked::LastWay => Err(ApiError::Conflict(
            "last_sign_in_method",
            "this is the account's last way to sign in: add a password or a passkey first",
        )
        .into()),
    }
}

//! The consents a user gave clients that are not first-party (book § Sign-in with the authorization-code flow):
//! `GET /api/v1/me/consents`, `DELETE /api/v1/me/consents/{client_id}`. A revoked consent
//! is asked for again at the client's next authorization.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::bearer::{AccountUser, Bearer};
use super::error::{ApiError, ResourceError};
use crate::state::AppState;
use crate::store::Consent;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentList {
    #[schema(value_type = Vec<Object>)]
    pub consents: Vec<Consent>,
}

/// The caller's remembered consents, by client.
#[utoipa::path(get, path = "/api/v1/me/consents", tag = "session",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`{consents: [{client_id, scopes, granted_at}]}`", body = ConsentList),
        crate::http::error::responses::AccountTokenRefused))]
pub async fn list(
    state: web::Data<AppState>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let consents = state
        .consents
        .list(&session.user)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ConsentList { consents }))
}

/// Revokes the caller's consent to a client and ends every session of the caller at that
/// client (its refresh tokens stop working; the revocation feed announces the sessions).
#[utoipa::path(delete, path = "/api/v1/me/consents/{client_id}", tag = "session",
    security(("bearer" = [])),
    params(("client_id" = String, Path)),
    responses(
        (status = 204, description = "Revoked"),
        crate::http::error::responses::AccountTokenRefused,
        (status = 404, description = "No consent to this client", body = crate::http::error::ErrorBody)))]
pub async fn revoke(
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let revoked = state
        .consents
        .revoke(&session.user, &client_id)
        .await
        .map_err(ApiError::from)?;
    if !revoked {
        return Err(ApiError::NotFound.into());
    }
    Ok(HttpResponse::NoContent().finish())
}

//! `/admin/keys` (book § Signing keys, book § Endpoints): the key ring as operators see it, rotation and emergency
//! revocation.

use actix_web::web;
use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{parse_optional_json, AdminCaller};
use crate::crypto::SigningAlg;
use crate::http::error::ApiError;
use crate::service::admin;
use crate::state::AppState;
use crate::tokens::PublishedKey;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/keys", web::get().to(list_keys))
        .route("/keys/rotate", web::post().to(rotate))
        .route("/keys/{kid}/revoke", web::post().to(revoke));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<PublishedKey>,
}

/// Every signing key that is not retired, with its state, times and public JWK.
#[utoipa::path(get, path = "/admin/keys", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The key ring", body = KeyList),
        crate::http::error::responses::AdminTokenRefused))]
pub async fn list_keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(KeyList {
        keys: state.keyring.keys(),
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Rotate only this algorithm (one of the enabled ones); absent: every enabled one.
    pub alg: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    pub alg: SigningAlg,
    /// The former `next` key, which signs from now on.
    pub active_kid: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotateResponse {
    pub rotated: Vec<Rotated>,
    pub keys: Vec<PublishedKey>,
}

/// Rotates: each `next` key (already published) starts signing, the old active key keeps
/// verifying until max token TTL + JWKS max-age + leeway, and a new `next` is published.
/// Every instance signs with the new key within seconds.
#[utoipa::path(post, path = "/admin/keys/rotate", tag = "admin",
    security(("admin_token" = [])),
    request_body(content = Option<RotateRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "Rotated", body = RotateResponse),
        (status = 400, description = "Unsupported or disabled algorithm (the message lists the allowed ones)", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused))]
pub async fn rotate(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: RotateRequest = parse_optional_json(&body)?;
    let rotated = admin::rotate_keys(
        &state.keyring,
        &state.stores,
        request.alg.as_deref(),
        &operator,
    )
    .await?;
    Ok(HttpResponse::Ok().json(RotateResponse {
        rotated: rotated
            .into_iter()
            .map(|(alg, active_kid)| Rotated { alg, active_kid })
            .collect(),
        keys: state.keyring.keys(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeResponse {
    pub revoked: String,
    /// When the revoked key was signing: the key that signs in its place.
    pub promoted: Option<String>,
    pub keys: Vec<PublishedKey>,
}

/// Emergency revocation: the key leaves the JWKS at once and tokens signed with it stop
/// introspecting as active on every instance. Revoking an active key promotes its
/// successor and publishes a new `next`, so signing never stops.
#[utoipa::path(post, path = "/admin/keys/{kid}/revoke", tag = "admin",
    security(("admin_token" = [])),
    params(("kid" = String, Path, description = "Key id (JWK thumbprint)")),
    responses(
        (status = 200, description = "Revoked", body = RevokeResponse),
        crate::http::error::responses::AdminTokenRefused,
        (status = 404, description = "No such key", body = crate::http::error::ErrorBody),
        (status = 409, description = "Already revoked", body = crate::http::error::ErrorBody)))]
pub async fn revoke(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    kid: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kid = kid.into_inner();
    let promoted = admin::revoke_key(
        &state.keyring,
        &state.stores,
        &state.settings,
        &kid,
        &operator,
    )
    .await?;
    Ok(HttpResponse::Ok().json(RevokeResponse {
        revoked: kid,
        promoted,
        keys: state.keyring.keys(),
    }))
}

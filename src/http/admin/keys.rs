//! `/admin/keys` (SPEC S3, S12): the key ring as operators see it.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::crypto::PublishedKey;
use crate::startup::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/keys", web::get().to(list_keys));
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
        (status = 401, description = "Missing or wrong admin token", body = crate::error::ErrorBody)))]
pub async fn list_keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(KeyList {
            keys: state.keyring.keys(),
        })
}

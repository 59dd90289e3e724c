//! The OpenAPI document (SPEC S13), generated from the handlers' utoipa annotations;
//! `tessera openapi` prints it, `openapi/openapi.json` is the committed copy, and the public
//! listener serves it at `/openapi.json`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    account, admin, cors, health, me, mfa, password, revoke, session, sessions, token, userinfo,
    wellknown,
};
use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tessera",
        description = "OAuth 2 / OpenID Connect token issuer. Public endpoints are served on the public listener; `/admin/*` only on the admin listener, with an admin bearer token; `/metrics` (Prometheus) only on the admin listener."
    ),
    paths(
        health::healthz,
        health::readyz,
        wellknown::jwks,
        wellknown::openid_configuration,
        wellknown::authorization_server_metadata,
        openapi_json,
        token::token,
        revoke::revoke,
        revoke::introspect,
        userinfo::userinfo,
        userinfo::userinfo_post,
        account::register,
        session::login,
        session::refresh,
        session::logout,
        me::me,
        sessions::list,
        sessions::end,
        sessions::change,
        session::mfa,
        mfa::setup,
        mfa::confirm,
        mfa::disable,
        mfa::recovery_codes,
        password::forgot,
        password::reset,
        admin::keys::list_keys,
        admin::keys::rotate,
        admin::keys::revoke,
        admin::clients::create,
        admin::clients::list,
        admin::clients::get,
        admin::clients::update,
        admin::clients::delete,
        admin::clients::rotate_secret,
        admin::users::create,
        admin::users::find,
        admin::users::get,
        admin::users::revoke_sessions,
        admin::users::unlock,
        admin::users::delete,
        admin::users::import,
        admin::audit::list,
        admin::metrics,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::FieldError)),
    modifiers(&AdminTokenScheme),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "discovery", description = "JWKS and provider metadata"),
        (name = "oauth2", description = "OAuth 2 / OpenID Connect endpoints"),
        (name = "accounts", description = "Registration and the signed-in account"),
        (name = "session", description = "SPA login, cookie refresh and logout"),
        (name = "admin", description = "Admin listener only; bearer admin token"),
    )
)]
pub struct ApiDoc;

struct AdminTokenScheme;

impl Modify for AdminTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The document as committed in `openapi/openapi.json` (pretty JSON, trailing newline).
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/openapi.json")
            .wrap(cors::public_document())
            .route(web::get().to(openapi_json)),
    );
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "discovery",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(state.documents.openapi.clone())
}

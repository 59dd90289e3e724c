//! The OpenAPI documents (book § Layout), one per listener, generated from the handlers' utoipa
//! annotations: `tessera openapi` prints the public one (`openapi/openapi.json`), `tessera
//! openapi --admin` the admin one (`openapi/admin.json`); each listener serves its own at
//! `/openapi.json`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, authorize, cookie_session, cors, email, health, introspect, me, me_consents,
    me_identities, me_mfa, me_password, me_sessions, par, passkeys, password_reset, registration,
    revocation_feed, revoke, token, userinfo, wellknown,
};
use crate::state::AppState;

/// The public listener's document (`/openapi.json` there; `openapi/openapi.json`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tessera",
        description = "OAuth 2 / OpenID Connect token issuer: the public listener. The admin API is described by the admin listener's own `/openapi.json` (`openapi/admin.json`)."
    ),
    paths(
        health::healthz,
        health::readyz,
        wellknown::jwks,
        wellknown::openid_configuration,
        wellknown::authorization_server_metadata,
        openapi_json,
        authorize::authorize_get,
        authorize::authorize_post,
        authorize::sign_in,
        authorize::second_factor,
        authorize::passkey,
        authorize::resend,
        authorize::consent,
        authorize::upstream_start,
        authorize::upstream_callback,
        authorize::verify,
        authorize::confirm,
        authorize::logout_get,
        authorize::logout_post,
        token::token,
        par::push,
        revoke::revoke,
        introspect::introspect,
        revocation_feed::feed_get,
        revocation_feed::feed_post,
        userinfo::userinfo,
        userinfo::userinfo_post,
        registration::register,
        cookie_session::login,
        cookie_session::refresh,
        cookie_session::logout,
        me::me,
        me_sessions::list,
        me_sessions::end,
        me_identities::list,
        me_identities::link,
        me_identities::unlink,
        me_consents::list,
        me_consents::revoke,
        me_password::change,
        cookie_session::mfa,
        me_mfa::setup,
        me_mfa::confirm,
        me_mfa::disable,
        me_mfa::recovery_codes,
        passkeys::passkey_sign_in_options,
        passkeys::passkey_sign_in,
        passkeys::passkey_registration_options,
        passkeys::add_passkey,
        passkeys::list_passkeys,
        passkeys::rename_passkey,
        passkeys::delete_passkey,
        password_reset::forgot,
        password_reset::reset,
        email::resend,
        email::change,
    ),
    components(schemas(
        crate::http::error::ErrorBody,
        crate::domain::FieldError,
        crate::http::revocation_feed::RevocationEvent
    )),
    modifiers(&AdminTokenScheme, &CommonResponses, &UniqueOperationIds),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "discovery", description = "JWKS and provider metadata"),
        (name = "oauth2", description = "OAuth 2 / OpenID Connect endpoints"),
        (name = "accounts", description = "Registration and the signed-in account"),
        (name = "session", description = "SPA login, cookie refresh and logout"),
    )
)]
pub struct PublicApi;

/// The admin listener's document (`/openapi.json` there; `openapi/admin.json`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tessera admin",
        description = "The admin listener of tessera (never the public one): `/admin/*` with an admin bearer token, `/metrics` (Prometheus)."
    ),
    paths(
        admin_openapi_json,
        admin::keys::list_keys,
        admin::keys::rotate,
        admin::keys::revoke,
        admin::clients::create,
        admin::clients::list,
        admin::clients::get,
        admin::clients::update,
        admin::clients::delete,
        admin::clients::rotate_secret,
        admin::providers::create,
        admin::providers::list,
        admin::providers::get,
        admin::providers::update,
        admin::providers::delete,
        admin::users::create,
        admin::users::find,
        admin::users::get,
        admin::users::revoke_sessions,
        admin::users::unlock,
        admin::users::set_email_verified,
        admin::users::user_passkeys,
        admin::users::user_identities,
        admin::users::delete_user_passkey,
        admin::users::delete,
        admin::users::import,
        admin::audit::list,
        admin::outbox::outbox,
        admin::outbox::retry_message,
        admin::metrics,
    ),
    components(schemas(
        crate::http::error::ErrorBody,
        crate::domain::FieldError,
        crate::domain::ProviderSettings
    )),
    modifiers(&AdminTokenScheme, &CommonResponses, &UniqueOperationIds),
    tags((name = "admin", description = "Admin listener only; bearer admin token")),
)]
pub struct AdminApi;

/// Answers every endpoint can give that its handler does not produce itself: a body that
/// is too large (413), of the wrong type (415) or malformed (400) where there is a body,
/// and a backend outage (503) wherever a backend is asked. Added once here instead of on
/// every handler; a handler's own description of the same status wins.
struct CommonResponses;

/// Endpoints answered from memory: no backend outage reaches them.
const FROM_MEMORY: [&str; 7] = [
    "/healthz",
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/openapi.json",
    "/metrics",
    "/readyz",
];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if operation.request_body.is_some() {
                    for (status, description) in [
                        ("400", "Malformed or invalid body"),
                        ("413", "Body too large"),
                        ("415", "Wrong Content-Type"),
                    ] {
                        responses
                            .entry(status.to_owned())
                            .or_insert_with(|| error(description));
                    }
                }
                if !FROM_MEMORY.contains(&path.as_str()) {
                    responses.entry("503".to_owned()).or_insert_with(|| {
                        error("A backend is unavailable: retry after Retry-After")
                    });
                }
            }
        }
    }
}

/// OpenAPI requires every `operationId` to be unique, and client generators name methods
/// after them; utoipa takes the handler's name, which repeats across resources (`list`,
/// `get`, `delete`). A repeated id gets its path as a suffix (`list_api_v1_me_sessions`);
/// a unique one keeps the handler's name.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut seen = std::collections::HashMap::<String, usize>::new();
        for item in openapi.paths.paths.values() {
            for operation in operations(item) {
                if let Some(id) = &operation.operation_id {
                    *seen.entry(id.clone()).or_default() += 1;
                }
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let slug: String = path
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("_");
            for operation in operations_mut(item) {
                if let Some(id) = &mut operation.operation_id {
                    if seen.get(id.as_str()).is_some_and(|n| *n > 1) {
                        *id = format!("{id}_{slug}");
                    }
                }
            }
        }
    }
}

fn operations(
    item: &utoipa::openapi::PathItem,
) -> impl Iterator<Item = &utoipa::openapi::path::Operation> {
    [&item.get, &item.post, &item.put, &item.patch, &item.delete]
        .into_iter()
        .flatten()
}

fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

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

/// The public listener's document as committed in `openapi/openapi.json` (pretty JSON,
/// trailing newline).
pub fn document() -> String {
    pretty(PublicApi::openapi())
}

/// The admin listener's document as committed in `openapi/admin.json`.
pub fn admin_document() -> String {
    pretty(AdminApi::openapi())
}

fn pretty(doc: utoipa::openapi::OpenApi) -> String {
    let mut json = doc.to_pretty_json().unwrap_or_default();
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

/// The admin listener serves its own document.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(admin_openapi_json));
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "discovery",
    responses((status = 200, description = "OpenAPI 3.1 document of the public listener", content_type = "application/json", body = Object)))]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(state.documents.openapi.clone())
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "admin",
    responses((status = 200, description = "OpenAPI 3.1 document of the admin listener", content_type = "application/json", body = Object)))]
pub async fn admin_openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(state.documents.admin_openapi.clone())
}

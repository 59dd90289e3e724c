//! HTTP listeners (book § Run the service, book § Endpoints): the public and the admin app, each with the response
//! envelope, body limits and JSON extractor errors. One file per resource below.

pub mod admin;
pub mod authorize;
pub mod bearer;
pub mod cookie_session;
pub mod cors;
mod dpop;
pub mod email;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod form;
pub mod health;
pub mod introspect;
pub mod me;
pub mod me_consents;
pub mod me_identities;
pub mod me_mfa;
pub mod me_password;
pub mod me_sessions;
mod oauth_client;
pub mod openapi;
pub mod par;
pub mod passkeys;
pub mod password_reset;
#[cfg(test)]
mod redaction_tests;
pub mod registration;
pub mod revocation_feed;
pub mod revoke;
pub mod token;
pub mod userinfo;
pub mod wellknown;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::KeepAlive;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::state::AppState;
use error::{ApiError, FieldError};

const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const KEEP_ALIVE: Duration = Duration::from_secs(75);
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// JSON, form, path and query extractor settings: size limits and JSON 400s that name the
/// field but never echo parser internals.
fn extractor_config(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.app_data(web::PayloadConfig::new(max_body))
        .app_data(
            web::JsonConfig::default()
                .limit(max_body)
                .error_handler(|err, _| {
                    let description = match &err {
                        actix_web::error::JsonPayloadError::ContentType => {
                            return ApiError::UnsupportedMediaType("application/json").into();
                        }
                        actix_web::error::JsonPayloadError::Overflow { .. }
                        | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                            return ApiError::PayloadTooLarge.into();
                        }
                        _ => "request body is not valid JSON for this endpoint",
                    };
                    bad_request(description, field_of(&err.to_string())).into()
                }),
        )
        .app_data(
            web::FormConfig::default()
                .limit(max_body)
                .error_handler(|_, _| {
                    bad_request("request body is not a valid form for this endpoint", None).into()
                }),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|_, _| bad_request("invalid query parameters", None).into()),
        )
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
}

fn bad_request(description: &str, field: Option<FieldError>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_request",
        description: description.into(),
        fields: field.into_iter().collect(),
    }
}

/// serde names the offending field in backticks (`unknown field `x``, `missing field `y``).
pub(crate) fn field_of(message: &str) -> Option<FieldError> {
    let kind = ["unknown field", "missing field", "duplicate field"]
        .into_iter()
        .find(|k| message.contains(k))?;
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(FieldError {
        field: message[start..start + len].to_owned(),
        message: kind.to_owned(),
    })
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// The public listener: OAuth/OIDC, discovery, health, OpenAPI. Nothing administrative.
pub fn public_server(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let settings = state.settings.clone();
    let workers = settings.workers();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(|cfg| extractor_config(cfg, settings.max_body_bytes))
            .wrap(from_fn(envelope::envelope))
            .configure(|cfg| api_routes(cfg, &settings))
            .configure(health::routes)
            .configure(wellknown::routes)
            .configure(openapi::routes)
            .default_service(web::to(not_found))
    });
    Ok(server
        .workers(workers)
        .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
        .client_request_timeout(REQUEST_HEAD_TIMEOUT)
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)?
        .run())
}

/// The OAuth endpoints and the SPA JSON API, behind the CORS allowlist.
fn api_routes(cfg: &mut web::ServiceConfig, settings: &crate::config::Settings) {
    // the hosted pages first (a scope takes every path under it): a browser's own
    // navigation and form posts, no CORS
    cfg.service(
        web::scope("/oauth2/authorize")
            .route("", web::get().to(authorize::authorize_get))
            .route("", web::post().to(authorize::authorize_post))
            .route("/signin", web::post().to(authorize::sign_in))
            .route("/mfa", web::post().to(authorize::second_factor))
            .route("/passkey", web::post().to(authorize::passkey))
            .route("/resend", web::post().to(authorize::resend))
            .route("/consent", web::post().to(authorize::consent)),
    )
    .route(
        "/oauth2/upstream/{id}/start",
        web::get().to(authorize::upstream_start),
    )
    .route(
        "/oauth2/upstream/{id}/callback",
        web::get().to(authorize::upstream_callback),
    )
    .route("/email/verify", web::get().to(authorize::verify))
    .route("/email/confirm", web::get().to(authorize::confirm))
    .route("/oauth2/logout", web::get().to(authorize::logout_get))
    .route("/oauth2/logout", web::post().to(authorize::logout_post))
    .route(
        authorize::STYLESHEET_PATH.as_str(),
        web::get().to(authorize::stylesheet),
    )
    .route(
        authorize::PASSKEY_SCRIPT_PATH.as_str(),
        web::get().to(authorize::passkey_script),
    )
    .route(authorize::ICON_PATH, web::get().to(authorize::icon))
    .route("/favicon.ico", web::get().to(authorize::icon))
    .service(
        web::scope("/oauth2")
            .wrap(cors::allowlist(settings))
            .route("/token", web::post().to(token::token))
            .route("/par", web::post().to(par::push))
            .route("/revoke", web::post().to(revoke::revoke))
            .route("/introspect", web::post().to(introspect::introspect))
            .route("/revocations", web::get().to(revocation_feed::feed_get))
            .route("/revocations", web::post().to(revocation_feed::feed_post))
            .route("/userinfo", web::get().to(userinfo::userinfo))
            .route("/userinfo", web::post().to(userinfo::userinfo_post)),
    )
    .service(
        web::scope("/api/v1")
            .wrap(cors::allowlist(settings))
            .route("/accounts", web::post().to(registration::register))
            .route("/email/verification", web::post().to(email::resend))
            .route("/me/email", web::post().to(email::change))
            .route("/session", web::post().to(cookie_session::login))
            .route("/session", web::delete().to(cookie_session::logout))
            .route("/session/refresh", web::post().to(cookie_session::refresh))
            .route("/session/mfa", web::post().to(cookie_session::mfa))
            .route(
                "/session/passkey/options",
                web::post().to(passkeys::passkey_sign_in_options),
            )
            .route(
                "/session/passkey",
                web::post().to(passkeys::passkey_sign_in),
            )
            .route(
                "/me/passkeys/options",
                web::post().to(passkeys::passkey_registration_options),
            )
            .route("/me/passkeys", web::post().to(passkeys::add_passkey))
            .route("/me/passkeys", web::get().to(passkeys::list_passkeys))
            .route(
                "/me/passkeys/{id}",
                web::patch().to(passkeys::rename_passkey),
            )
            .route(
                "/me/passkeys/{id}",
                web::delete().to(passkeys::delete_passkey),
            )
            .route("/me/mfa/totp", web::post().to(me_mfa::setup))
            .route("/me/mfa/totp", web::delete().to(me_mfa::disable))
            .route("/me/mfa/totp/confirm", web::post().to(me_mfa::confirm))
            .route(
                "/me/mfa/recovery-codes",
                web::post().to(me_mfa::recovery_codes),
            )
            .route("/me", web::get().to(me::me))
            .route("/me/sessions", web::get().to(me_sessions::list))
            .route("/me/consents", web::get().to(me_consents::list))
            .route(
                "/me/consents/{client_id}",
                web::delete().to(me_consents::revoke),
            )
            .route("/me/sessions/{id}", web::delete().to(me_sessions::end))
            .route("/me/identities", web::get().to(me_identities::list))
            .route("/me/identities", web::post().to(me_identities::link))
            .route(
                "/me/identities/{id}",
                web::delete().to(me_identities::unlink),
            )
            .route("/me/password", web::post().to(me_password::change))
            .route("/password/forgot", web::post().to(password_reset::forgot))
            .route("/password/reset", web::post().to(password_reset::reset)),
    );
}

/// The admin listener: bearer-token authenticated `/admin/*`.
pub fn admin_server(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let max_body = state.settings.max_body_bytes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(|cfg| extractor_config(cfg, max_body))
            .wrap(from_fn(envelope::envelope))
            .configure(admin::routes)
            .configure(openapi::admin_routes)
            .default_service(web::to(not_found))
    });
    // the admin plane sees little traffic: one worker is plenty
    Ok(server
        .workers(1)
        .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
        .client_request_timeout(REQUEST_HEAD_TIMEOUT)
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)?
        .run())
}

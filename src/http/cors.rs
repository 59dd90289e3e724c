//! CORS (book § Endpoints): an explicit origin allowlist, credentials only for listed origins;
//! public documents (JWKS, discovery, OpenAPI) are readable from any origin, without
//! credentials.

use actix_cors::Cors;
use actix_web::http::{header, Method};
use actix_web::middleware::DefaultHeaders;

use crate::config::Settings;

const EXPOSED: [&str; 7] = [
    "x-request-id",
    "www-authenticate",
    // a browser client's DPoP library reads the server's nonce (RFC 9449 §8)
    "dpop-nonce",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
];

/// For the credentialed API scopes (`/oauth2`, `/api/v1`): listed origins only. Unlisted
/// origins get no CORS headers (the browser then refuses to share the response) rather than
/// an error, so same-origin and server-to-server callers are unaffected; cookie endpoints
/// additionally refuse unlisted `Origin`s themselves (book § Endpoints).
pub fn allowlist(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .allowed_header("x-request-id")
        // the proof of a sender-constrained request (RFC 9449 §4.1)
        .allowed_header("dpop")
        .expose_headers(EXPOSED)
        .max_age(600)
        .block_on_origin_mismatch(false);
    for origin in &settings.cors_origins {
        cors = if origin == "*" {
            cors.allow_any_origin().send_wildcard()
        } else {
            cors.allowed_origin(origin)
        };
    }
    if settings.cors_allow_credentials {
        cors = cors.supports_credentials();
    }
    cors
}

/// For public, credential-free documents (JWKS, discovery, OpenAPI): readable from any
/// origin. A static header, not a CORS middleware: these are simple GETs that need no
/// preflight, and this sits on the hottest path (every verifier's JWKS refresh).
pub fn public_document() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .add((header::ACCESS_CONTROL_EXPOSE_HEADERS, "etag, x-request-id"))
}

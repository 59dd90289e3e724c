//! The response envelope every listener wraps (book § Endpoints): `X-Request-Id` (in every
//! response and every log line of the request), security headers, and JSON error bodies
//! that replace any framework-generated text (which can carry parser internals).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use tracing::Instrument;

use crate::http::error::ErrorBody;
use crate::state::AppState;

/// The request id, available to handlers through request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Built at compile time: this runs on every response.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    ),
    (
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ),
    (
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Routes whose handlers never log (they serve prepared bytes): no span per request, the
/// most frequent requests of all (every verifier fetches the JWKS).
const QUIET_ROUTES: [&str; 2] = [
    "/.well-known/jwks.json",
    "/.well-known/openid-configuration",
];

/// Request headers tessera reads, all together (names and values). actix-web has no
/// setting of its own below its 128 KiB head buffer.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

fn headers_too_large(req: &ServiceRequest) -> bool {
    let mut total = 0usize;
    for (name, value) in req.headers() {
        total += name.as_str().len() + value.len();
        if total > MAX_HEADER_BYTES {
            return true;
        }
    }
    false
}

/// Accepts an inbound id only if it is short and plain (it ends up in logs).
fn inbound_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get("x-request-id")?.to_str().ok()?;
    let plain = (8..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then(|| value.to_owned())
}

/// A random UUID, written without the formatting machinery (this runs on every request).
fn new_request_id() -> String {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

pub async fn envelope(
    state: web::Data<AppState>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = inbound_request_id(&req).unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    // cheap clones (enum, shared bytes); the path only: query strings can carry tokens
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let route = req.match_pattern();
    // one field: span fields are formatted on every request, logged or not. The published
    // documents' handlers log nothing, so theirs is made only for a completion line.
    let quiet = route.as_deref().is_some_and(|r| QUIET_ROUTES.contains(&r));
    let span = if quiet {
        tracing::Span::none()
    } else {
        tracing::info_span!("request", request_id = %id)
    };
    let started = Instant::now();
    let hsts = state.settings.is_https();
    let result = if headers_too_large(&req) {
        Err(crate::http::error::ApiError::HeadersTooLarge.into())
    } else {
        let (result, hashed) =
            crate::auth::hashing::track_request(next.call(req).instrument(span.clone())).await;
        if !hashed {
            state.hasher.request_served();
        }
        result
    };
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let span = if quiet && (!status.is_success() || tracing::enabled!(tracing::Level::DEBUG)) {
        tracing::info_span!("request", request_id = %id)
    } else {
        span
    };
    span.in_scope(|| log_completion(&method, uri.path(), status, started));
    crate::metrics::request(
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        status.as_u16(),
        started.elapsed(),
    );
    match result {
        Ok(res) => {
            let (req, res) = res.into_parts();
            Ok(ServiceResponse::new(
                req,
                finish(res.map_into_boxed_body(), &id, hsts),
            ))
        }
        // an inner middleware refused the request: the framework renders this error later,
        // so it carries the envelope with it
        Err(inner) => Err(Enveloped { inner, id, hsts }.into()),
    }
}

/// Failures at info (server errors at warn); successes only at debug: a line per JWKS fetch
/// costs about a third of the throughput and tells an operator nothing. A `503` is at info:
/// a shed login is the pool doing its job (a warn line per request would turn a login flood
/// into a log flood), and an unreachable backend is logged at warn where it is found.
fn log_completion(method: &Method, path: &str, status: StatusCode, started: Instant) {
    let (status, latency_ms) = (status.as_u16(), started.elapsed().as_secs_f64() * 1000.0);
    let method = method.as_str();
    match status {
        400..=499 | 503 => tracing::info!(method, path, status, latency_ms, "request refused"),
        500.. => tracing::warn!(method, path, status, latency_ms, "request failed"),
        _ => tracing::debug!(method, path, status, latency_ms, "request completed"),
    }
}

#[derive(Debug)]
struct Enveloped {
    inner: actix_web::Error,
    id: String,
    hsts: bool,
}

impl std::fmt::Display for Enveloped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl ResponseError for Enveloped {
    fn status_code(&self) -> StatusCode {
        self.inner.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        finish(self.inner.error_response(), &self.id, self.hsts)
    }
}

/// Security headers, request id, no `Server`, and a JSON body on every error.
fn finish(res: HttpResponse<BoxBody>, id: &str, hsts: bool) -> HttpResponse<BoxBody> {
    let mut res = json_error_body(res);
    let headers = res.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        // the hosted pages set their own policy (stylesheet, the client's origin as a
        // form target); everything else gets the locked-down one
        if name == header::CONTENT_SECURITY_POLICY && headers.contains_key(&name) {
            continue;
        }
        headers.insert(name, value);
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    headers.remove(header::SERVER);
    headers.remove("x-powered-by");
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID, value);
    }
    res
}

/// Replaces a non-JSON error body (404 from routing, 405, 413, parser errors) with the
/// standard JSON error, keeping status and headers.
fn json_error_body(res: HttpResponse<BoxBody>) -> HttpResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // JSON, or one of tessera's own pages: the framework writes neither
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json {
        return res;
    }
    let mut builder = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    let (error, description) = describe(status);
    builder.json(ErrorBody {
        error: error.into(),
        error_description: description.into(),
        fields: Vec::new(),
    })
}

/// Safe code and description for statuses the framework produces on its own.
pub fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed for this resource")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported content type")
        }
        StatusCode::UNAUTHORIZED => ("unauthorized", "missing or invalid credentials"),
        StatusCode::FORBIDDEN => ("forbidden", "not allowed"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers_too_large", "request headers too large")
        }
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "request timed out"),
        s if s.is_server_error() => ("server_error", "an internal error occurred"),
        _ => ("invalid_request", "the request is invalid"),
    }
}

//! Errors as clients see them (book § Endpoints), and the one place that maps domain errors to
//! responses: status, headers and a JSON body `{error, error_description, fields?}` (or
//! RFC 6749 §5.2 for `OAuthError`), never internal detail; the cause chain goes to the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

mod bearer;
mod from;
mod oauth;

pub use crate::domain::{FieldError, OAuthError, Throttled};
pub use bearer::{BearerError, DpopRefusal, ResourceError};
pub use oauth::{oauth_body, OAuthErrorBody};
pub mod responses;

/// The header a server nonce for DPoP proofs travels in (RFC 9449 §8).
pub const DPOP_NONCE: &str = "DPoP-Nonce";

/// The JSON error body of every non-OAuth error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `invalid_request`, `unauthorized`, `not_found`.
    pub error: String,
    /// Human-readable, safe to show.
    pub error_description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{description}")]
    BadRequest {
        code: &'static str,
        description: String,
        fields: Vec<FieldError>,
    },
    #[error("unauthorized")]
    Unauthorized { realm: &'static str },
    #[error("not found")]
    NotFound,
    /// Wrong email or password (one answer for both).
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("{1}")]
    Forbidden(&'static str, &'static str),
    #[error("{1}")]
    Conflict(&'static str, &'static str),
    /// Request headers over the size limit (RFC 6585).
    #[error("request headers too large")]
    HeadersTooLarge,
    /// A body over the size limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// A body in a media type the endpoint does not take.
    #[error("unsupported media type")]
    UnsupportedMediaType(&'static str),
    /// A rate limit or an account lock: 429 with Retry-After and RateLimit-*.
    #[error("too many requests")]
    TooManyRequests(Throttled),
    /// A dependency is down: 503 with Retry-After, safe description.
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn body(&self) -> ErrorBody {
        let (error, description, fields) = match self {
            Self::BadRequest {
                code,
                description,
                fields,
            } => (*code, description.clone(), fields),
            Self::Unauthorized { .. } => (
                "unauthorized",
                "missing or invalid credentials".into(),
                &Vec::new(),
            ),
            Self::NotFound => ("not_found", "no such resource".into(), &Vec::new()),
            Self::InvalidCredentials => (
                "invalid_credentials",
                "invalid email or password".into(),
                &Vec::new(),
            ),
            Self::Forbidden(code, d) | Self::Conflict(code, d) => (*code, (*d).into(), &Vec::new()),
            Self::HeadersTooLarge => (
                "headers_too_large",
                "request headers too large".into(),
                &Vec::new(),
            ),
            Self::PayloadTooLarge => (
                "payload_too_large",
                "request body too large".into(),
                &Vec::new(),
            ),
            Self::UnsupportedMediaType(expected) => (
                "unsupported_media_type",
                format!("expected Content-Type: {expected}"),
                &Vec::new(),
            ),
            Self::TooManyRequests(t) => (
                "too_many_requests",
                format!("too many attempts; retry in {} s", t.retry_after),
                &Vec::new(),
            ),
            Self::Unavailable(what) => (
                "temporarily_unavailable",
                format!("{what} is temporarily unavailable; retry later"),
                &Vec::new(),
            ),
            Self::Internal(_) => (
                "server_error",
                "an internal error occurred".into(),
                &Vec::new(),
            ),
        };
        ErrorBody {
            error: error.into(),
            error_description: description,
            fields: fields.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(..) => StatusCode::FORBIDDEN,
            Self::Conflict(..) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthorized { realm } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"{realm}\""),
                ));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_UNAVAILABLE));
            }
            Self::TooManyRequests(throttled) => throttle_headers(&mut response, throttled),
            _ => {}
        }
        response.json(self.body())
    }
}

/// The one `Retry-After` of every `503` tessera sends, whichever answer carries it (JSON,
/// OAuth, the hosted pages, readiness): long enough for a shed request's queue to drain or
/// a backend to fail over, short enough that a client retrying once recovers within
/// seconds. Throttled requests (`429`) say their own time instead.
pub const RETRY_AFTER_UNAVAILABLE: &str = "2";

/// The headers of a `429` (book § Configuration; draft-ietf-httpapi-ratelimit-headers).
fn throttle_pairs(throttled: &Throttled) -> [(header::HeaderName, String); 4] {
    [
        (header::RETRY_AFTER, throttled.retry_after.to_string()),
        (
            header::HeaderName::from_static("ratelimit-limit"),
            throttled.limit.to_string(),
        ),
        (
            header::HeaderName::from_static("ratelimit-remaining"),
            "0".to_owned(),
        ),
        (
            header::HeaderName::from_static("ratelimit-reset"),
            throttled.reset.to_string(),
        ),
    ]
}

pub(super) fn throttle_headers(response: &mut HttpResponseBuilder, throttled: &Throttled) {
    for pair in throttle_pairs(throttled) {
        response.insert_header(pair);
    }
}

/// Makes a page already built the `429` of `throttled`, with the same headers as every
/// other `429` (the hosted pages show the form again, with its notice).
pub fn throttle_page(response: &mut HttpResponse, throttled: &Throttled) {
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    for (name, value) in throttle_pairs(throttled) {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
}

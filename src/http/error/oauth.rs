//! OAuth endpoints' errors (RFC 6749 §5.2): status, `WWW-Authenticate` for
//! `invalid_client`, no-store headers and the RFC body; `mfa_required` carries its token.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::throttle_headers;
use crate::domain::OAuthError;

/// RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    pub error: String,
    pub error_description: String,
}

pub fn oauth_body(e: &OAuthError) -> OAuthErrorBody {
    OAuthErrorBody {
        error: e.to_string(),
        error_description: e.description(),
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::MfaRequired(_) => StatusCode::FORBIDDEN,
            Self::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Server(e) = self {
            tracing::error!(error = format!("{e:#}"), "token endpoint failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        match self {
            Self::InvalidClient => {
                response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"tessera\""));
            }
            Self::TemporarilyUnavailable => {
                response.insert_header((header::RETRY_AFTER, super::RETRY_AFTER_UNAVAILABLE));
            }
            Self::TooManyRequests(throttled) => throttle_headers(&mut response, throttled),
            Self::UseDpopNonce(nonce) => {
                response.insert_header((super::DPOP_NONCE, nonce.as_str()));
            }
            _ => {}
        }
        if let Self::MfaRequired(token) = self {
            let body = oauth_body(self);
            return response.json(serde_json::json!({
                "error": body.error,
                "error_description": body.error_description,
                "mfa_token": token,
            }));
        }
        response.json(oauth_body(self))
    }
}

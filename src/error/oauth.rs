//! OAuth 2 error responses (RFC 6749 §5.2): the RFC code in `Display` (kanidm style), the
//! web layer maps it to status, `WWW-Authenticate` and no-store headers.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::hashing::HashError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request")]
    InvalidRequest(String),
    /// Unknown client, wrong secret, or wrong authentication method: one answer for all.
    #[error("invalid_client")]
    InvalidClient,
    #[error("invalid_grant")]
    InvalidGrant(&'static str),
    #[error("unauthorized_client")]
    UnauthorizedClient(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope")]
    InvalidScope(String),
    /// Wrong `Content-Type` (answered 415, code `invalid_request`).
    #[error("invalid_request")]
    UnsupportedMediaType,
    /// The password was right and the user has MFA: continue with the mfa-otp grant
    /// (or `POST /api/v1/session/mfa`) and this token.
    #[error("mfa_required")]
    MfaRequired(String),
    /// A rate limit or an account lock: 429 + Retry-After + RateLimit-*.
    #[error("too_many_requests")]
    TooManyRequests(crate::abuse::Throttled),
    /// Shed or a backend is down: 503 + Retry-After.
    #[error("temporarily_unavailable")]
    TemporarilyUnavailable,
    #[error("server_error")]
    Server(#[from] anyhow::Error),
}

/// RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    pub error: String,
    pub error_description: String,
}

impl OAuthError {
    fn description(&self) -> String {
        match self {
            Self::InvalidRequest(d) | Self::InvalidScope(d) => d.clone(),
            Self::InvalidClient => "client authentication failed".into(),
            Self::InvalidGrant(d) | Self::UnauthorizedClient(d) => (*d).into(),
            Self::UnsupportedGrantType => "grant_type is not supported".into(),
            Self::TooManyRequests(t) => {
                format!("too many attempts; retry in {} s", t.retry_after)
            }
            Self::MfaRequired(_) => {
                "a second factor is required: use grant urn:tessera:grant-type:mfa-otp with this mfa_token".into()
            }
            Self::UnsupportedMediaType => {
                "Content-Type must be application/x-www-form-urlencoded".into()
            }
            Self::TemporarilyUnavailable => "the server is busy; retry later".into(),
            Self::Server(_) => "an internal error occurred".into(),
        }
    }

    pub fn body(&self) -> OAuthErrorBody {
        OAuthErrorBody {
            error: self.to_string(),
            error_description: self.description(),
        }
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
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::TooManyRequests(throttled) => {
                for header in throttled.headers() {
                    response.insert_header(header);
                }
            }
            _ => {}
        }
        if let Self::MfaRequired(token) = self {
            let body = self.body();
            return response.json(serde_json::json!({
                "error": body.error,
                "error_description": body.error_description,
                "mfa_token": token,
            }));
        }
        response.json(self.body())
    }
}

impl From<crate::abuse::Refused> for OAuthError {
    fn from(e: crate::abuse::Refused) -> Self {
        match e {
            crate::abuse::Refused::Throttled(t) => OAuthError::TooManyRequests(t),
            crate::abuse::Refused::Store(e) => e.into(),
        }
    }
}

impl From<HashError> for OAuthError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => OAuthError::TemporarilyUnavailable,
            HashError::Failed(m) => OAuthError::Server(anyhow::anyhow!(m)),
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { backend, source } => {
                tracing::warn!(
                    backend,
                    error = format!("{source:#}"),
                    "backend unavailable"
                );
                OAuthError::TemporarilyUnavailable
            }
            other => OAuthError::Server(other.into()),
        }
    }
}

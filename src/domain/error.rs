//! Domain errors as plain data (kanidm style): `OAuthError` names the RFC 6749 §5.2 code in
//! its `Display`, `Throttled` says when to retry (book § Configuration), `FieldError` names a rejected
//! field. `http::error` is the one place that turns them into status, headers and body.

use serde::Serialize;
use utoipa::ToSchema;

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
    TooManyRequests(Throttled),
    /// Shed or a backend is down: 503 + Retry-After.
    #[error("temporarily_unavailable")]
    TemporarilyUnavailable,
    #[error("server_error")]
    Server(#[from] anyhow::Error),
}

impl OAuthError {
    /// The safe `error_description`: never internal detail.
    pub fn description(&self) -> String {
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
}

/// A refused request (book § Configuration): a rate limit or an account lock, with when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Requests allowed per period (`RateLimit-Limit`; 0 for an account lock).
    pub limit: u32,
    /// Seconds until a request may succeed (`Retry-After`).
    pub retry_after: u64,
    /// Seconds until the allowance is whole again (`RateLimit-Reset`).
    pub reset: u64,
}

// One rejected input field and why (book § Endpoints `fields`); no doc comment: it would change
// the published schema.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

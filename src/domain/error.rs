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
    /// A DPoP proof (RFC 9449 §5) that fails a check, or none where one is required.
    #[error("invalid_dpop_proof")]
    InvalidDpopProof(String),
    /// Another authorization error a pushed request gets (RFC 9126 §2.3), by its code.
    #[error("{0}")]
    Pushed(&'static str, String),
    /// The proof lacks the server's current nonce (RFC 9449 §8): `DPoP-Nonce` has one.
    #[error("use_dpop_nonce")]
    UseDpopNonce(String),
    /// Wrong `Content-Type` (answered 415, code `invalid_request`).
    #[error("invalid_request")]
    UnsupportedMediaType,
    /// The password was right and the user has MFA: continue with the mfa-otp grant
    /// (or `POST /api/v1/session/mfa`) and this token.
    #[error("mfa_required")]
    MfaRequired(String),
    /// The credentials were right, and the address must be verified first (email
    /// verification `required`): `400 email_not_verified` here, `403` on the JSON API.
    #[error("email_not_verified")]
    EmailNotVerified,
    /// A rate limit or an account lock: 429 + Retry-After + RateLimit-*.
    #[error("too_many_requests")]
    TooManyRequests(Throttled),
    /// Shed or a backend is down: 503 + Retry-After.
    #[error("temporarily_unavailable")]
    TemporarilyUnavailable,
    #[error("server_error")]
    Server(#[from] anyhow::Error),
}

/// What a sign-in refused for an unverified address is told.
pub const EMAIL_NOT_VERIFIED: &str =
    "confirm your email address first: follow the link sent to it, or ask for a new one";

impl OAuthError {
    /// The safe `error_description`: never internal detail.
    pub fn description(&self) -> String {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidScope(d)
            | Self::InvalidDpopProof(d)
            | Self::Pushed(_, d) => d.clone(),
            Self::UseDpopNonce(_) => {
                "the DPoP proof must carry the nonce in the DPoP-Nonce header".into()
            }
            Self::InvalidClient => "client authentication failed".into(),
            Self::InvalidGrant(d) | Self::UnauthorizedClient(d) => (*d).into(),
            Self::UnsupportedGrantType => "grant_type is not supported".into(),
            Self::TooManyRequests(t) => {
                format!("too many attempts; retry in {} s", t.retry_after)
            }
            Self::MfaRequired(_) => {
                "a second factor is required: use grant urn:tessera:grant-type:mfa-otp with this mfa_token".into()
            }
            Self::EmailNotVerified => EMAIL_NOT_VERIFIED.into(),
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

/// What kind of failure a service error is. Each service error says which, once, next to
/// its definition; each surface maps the kinds once: the JSON API (`http::error::ApiError`),
/// the OAuth endpoints (`OAuthError`) and the hosted pages (`http::authorize`). A `503`
/// always carries the one Retry-After of `http::error::RETRY_AFTER_UNAVAILABLE`; a `429`
/// carries the time its limit says.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The request is wrong: `code` and a safe description, and the fields at fault.
    #[error("{description}")]
    Invalid {
        code: &'static str,
        description: String,
        fields: Vec<FieldError>,
    },
    /// Wrong credentials (one answer for a wrong email and a wrong password).
    #[error("invalid credentials")]
    Unauthorized,
    /// The caller is known but may not do this now (`code` says what to do instead).
    #[error("{1}")]
    Forbidden(&'static str, &'static str),
    #[error("not found")]
    NotFound,
    /// The request contradicts the current state.
    #[error("{1}")]
    Conflict(&'static str, &'static str),
    /// A rate limit or an account lock.
    #[error("too many requests")]
    Throttled(Throttled),
    /// A backend (or the hashing pool) cannot serve now; retry soon.
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// A fault of tessera's: the cause is logged, never answered.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl Failure {
    /// An invalid request without field detail.
    pub fn invalid(code: &'static str, description: impl Into<String>) -> Self {
        Failure::Invalid {
            code,
            description: description.into(),
            fields: Vec::new(),
        }
    }
}

/// The OAuth endpoints' mapping of the kinds (RFC 6749 §5.2): a backend failure is
/// `temporarily_unavailable`, a limit `too_many_requests`, a fault `server_error`; the
/// rest are the request's own fault.
impl From<Failure> for OAuthError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Throttled(t) => OAuthError::TooManyRequests(t),
            Failure::Unavailable(_) => OAuthError::TemporarilyUnavailable,
            Failure::Internal(e) => OAuthError::Server(e),
            Failure::Unauthorized => OAuthError::InvalidGrant("invalid email or password"),
            other => OAuthError::InvalidRequest(other.to_string()),
        }
    }
}

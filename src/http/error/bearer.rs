//! Resource endpoints' errors (RFC 6750 §3): a refused bearer token is a 401 with a
//! `WWW-Authenticate: Bearer` challenge naming `invalid_token`, and the JSON body.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::{ApiError, ErrorBody};
use crate::service::access::AccessError;

/// Why a bearer request was refused.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No credentials at all: challenge without an error code.
    #[error("missing bearer token")]
    Missing,
    /// Not a bearer token, or a token the service refused.
    #[error("invalid_token")]
    Refused(AccessError),
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        let (error, description) = match self {
            Self::Missing => ("unauthorized", "a bearer access token is required"),
            Self::Refused(e) => (
                "invalid_token",
                match e {
                    AccessError::NotAUser => "the access token does not belong to a user",
                    AccessError::NotForAccountApi => {
                        "the access token is not meant for the account API"
                    }
                    AccessError::Invalid | AccessError::Store(_) => {
                        "the access token is invalid or expired"
                    }
                },
            ),
        };
        let challenge = match self {
            Self::Missing => "Bearer realm=\"tessera\"".to_owned(),
            Self::Refused(_) => format!(
                "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{description}\""
            ),
        };
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ErrorBody {
                error: error.into(),
                error_description: description.into(),
                fields: Vec::new(),
            })
    }
}

/// Errors of resource endpoints that need the token's user.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Bearer(#[from] BearerError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<AccessError> for ResourceError {
    /// A backend outage is a 503, not a refused token.
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Store(e) => ResourceError::Api(e.into()),
            other => ResourceError::Bearer(BearerError::Refused(other)),
        }
    }
}

impl ResponseError for ResourceError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Bearer(e) => e.status_code(),
            Self::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Bearer(e) => e.error_response(),
            Self::Api(e) => e.error_response(),
        }
    }
}

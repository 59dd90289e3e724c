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
    /// A DPoP presentation that fails (RFC 9449 §7.1): answered with a `DPoP` challenge.
    #[error("dpop")]
    Dpop(DpopRefusal),
}

/// Why a DPoP presentation was refused.
#[derive(Debug)]
pub enum DpopRefusal {
    /// The proof is missing or fails a check: `invalid_dpop_proof`.
    Proof(String),
    /// The proof lacks the server nonce: `use_dpop_nonce`, with `DPoP-Nonce`.
    Nonce(String),
    /// A DPoP-bound token presented as a bearer token: `invalid_token`.
    BoundToken,
    /// `Authorization: DPoP` with a token bound to no key: `invalid_token`.
    NotBound,
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Dpop(refusal) = self {
            return dpop_refusal(refusal);
        }
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
            Self::Dpop(_) => ("invalid_token", "the DPoP presentation was refused"),
        };
        let challenge = match self {
            Self::Missing => "Bearer realm=\"tessera\"".to_owned(),
            _ => format!(
                "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{description}\""
            ),
        };
        let mut response = HttpResponse::Unauthorized();
        response
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if matches!(self, Self::Missing) {
            // a client that holds a DPoP-bound token learns which proofs are taken
            response.append_header((header::WWW_AUTHENTICATE, DPOP_CHALLENGE));
        }
        response.json(ErrorBody {
            error: error.into(),
            error_description: description.into(),
            fields: Vec::new(),
        })
    }
}

/// The DPoP challenge offered next to Bearer (RFC 9449 §7.1): the proof algorithms taken.
const DPOP_CHALLENGE: &str = "DPoP algs=\"ES256 EdDSA PS256 RS256\"";

/// A refused DPoP presentation: `401` with `WWW-Authenticate: DPoP error=…` (and a fresh
/// nonce for `use_dpop_nonce`).
fn dpop_refusal(refusal: &DpopRefusal) -> HttpResponse {
    let (error, description) = match refusal {
        DpopRefusal::Proof(d) => ("invalid_dpop_proof", d.as_str()),
        DpopRefusal::Nonce(_) => (
            "use_dpop_nonce",
            "the DPoP proof must carry the nonce in the DPoP-Nonce header",
        ),
        DpopRefusal::BoundToken => (
            "invalid_token",
            "the access token is DPoP-bound: present it with Authorization: DPoP and a proof",
        ),
        DpopRefusal::NotBound => (
            "invalid_token",
            "the access token is not DPoP-bound: present it with Authorization: Bearer",
        ),
    };
    let mut response = HttpResponse::Unauthorized();
    response
        .insert_header((
            header::WWW_AUTHENTICATE,
            format!("{DPOP_CHALLENGE}, error=\"{error}\", error_description=\"{description}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let DpopRefusal::Nonce(nonce) = refusal {
        response.insert_header((super::DPOP_NONCE, nonce.as_str()));
    }
    response.json(ErrorBody {
        error: error.into(),
        error_description: description.into(),
        fields: Vec::new(),
    })
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

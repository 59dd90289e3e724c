//! Domain and service errors as the JSON API answers them (book § Endpoints): each mapping written
//! once, here, so handlers only `?`.

use super::ApiError;
use crate::auth::hashing::HashError;
use crate::domain::{Failure, OAuthError};
use crate::service::abuse::Refused;
use crate::service::accounts::AccountError;
use crate::service::admin::ManageError;
use crate::service::email::EmailChangeError;
use crate::service::mfa::account::FactorError;
use crate::service::mfa::MfaError;
use crate::service::passkeys::PasskeyError;
use crate::service::passwords::ChangeError;
use crate::service::reset::ResetError;
use crate::store::StoreError;

impl ApiError {
    /// A grant's error as the cookie API answers it: a bad, used or expired token or code
    /// is a plain 401 there (book § Endpoints), anything else as the JSON API maps it.
    pub fn from_cookie_grant(e: OAuthError) -> Self {
        match e {
            OAuthError::InvalidGrant(_) => ApiError::Unauthorized { realm: "tessera" },
            other => other.into(),
        }
    }
}

impl From<OAuthError> for ApiError {
    /// For the JSON API, which shares the grant logic with the token endpoint.
    fn from(e: OAuthError) -> Self {
        use crate::domain::OAuthError as O;
        match e {
            O::InvalidGrant(_) => ApiError::InvalidCredentials,
            O::TemporarilyUnavailable => ApiError::Unavailable("the service"),
            O::TooManyRequests(t) => ApiError::TooManyRequests(t),
            O::MfaRequired(_) => ApiError::Forbidden("mfa_required", "a second factor is required"),
            O::EmailNotVerified => {
                ApiError::Forbidden("email_not_verified", crate::domain::EMAIL_NOT_VERIFIED)
            }
            O::Server(e) => ApiError::Internal(e),
            other => ApiError::BadRequest {
                code: "invalid_request",
                description: other.description(),
                fields: Vec::new(),
            },
        }
    }
}

/// The JSON API's mapping of the kinds, the one place a service error becomes a status.
impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Invalid {
                code,
                description,
                fields,
            } => ApiError::BadRequest {
                code,
                description,
                fields,
            },
            Failure::Unauthorized => ApiError::InvalidCredentials,
            Failure::Forbidden(code, description) => ApiError::Forbidden(code, description),
            Failure::NotFound => ApiError::NotFound,
            Failure::Conflict(code, description) => ApiError::Conflict(code, description),
            Failure::Throttled(t) => ApiError::TooManyRequests(t),
            Failure::Unavailable(what) => ApiError::Unavailable(what),
            Failure::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Service errors reach the JSON API through their kind.
macro_rules! through_failure {
    ($($error:ty),+ $(,)?) => {$(
        impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                Failure::from(e).into()
            }
        }
    )+};
}

through_failure!(
    HashError,
    Refused,
    StoreError,
    ManageError,
    MfaError,
    PasskeyError,
    FactorError,
    AccountError,
    ChangeError,
    ResetError,
    EmailChangeError,
);

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;

    use super::*;

    /// One kind, one answer, whichever service error carries it: a saturated hashing pool
    /// and a Redis outage are both 503 with the same Retry-After; a hashing fault and a
    /// corrupt row are both 500.
    #[test]
    fn a_kind_answers_the_same_from_every_service_error() {
        use actix_web::http::StatusCode;
        let unavailable = [
            ApiError::from(HashError::Busy),
            ApiError::from(ChangeError::Hash(HashError::Busy)),
            ApiError::from(StoreError::Unavailable {
                backend: "redis",
                source: anyhow::anyhow!("connection refused"),
            }),
            ApiError::from(OAuthError::from(HashError::Busy)),
        ];
        for e in &unavailable {
            let response = e.error_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{e:?}");
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some(super::super::RETRY_AFTER_UNAVAILABLE)
            );
        }
        let faults = [
            ApiError::from(HashError::Failed("params".into())),
            ApiError::from(ResetError::Store(StoreError::Corrupt("state".into()))),
            ApiError::from(MfaError::Corrupt),
        ];
        for e in &faults {
            assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR, "{e:?}");
        }
    }
}

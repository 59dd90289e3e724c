//! Domain and service errors as the JSON API answers them (book § Endpoints): each mapping written
//! once, here, so handlers only `?`.

use super::ApiError;
use crate::auth::hashing::HashError;
use crate::domain::OAuthError;
use crate::service::abuse::Refused;
use crate::service::accounts::AccountError;
use crate::service::admin::ManageError;
use crate::service::mfa::account::FactorError;
use crate::service::mfa::MfaError;
use crate::service::passwords::ChangeError;
use crate::service::reset::ResetError;
use crate::store::StoreError;
use crate::tokens::KeyRingError;

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
            O::Server(e) => ApiError::Internal(e),
            other => ApiError::BadRequest {
                code: "invalid_request",
                description: other.description(),
                fields: Vec::new(),
            },
        }
    }
}

/// Every hashing failure answers the same, wherever it happens: a saturated pool sheds the
/// request (`503`, retry soon), anything else is a fault of tessera's (`500`).
impl From<HashError> for ApiError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => ApiError::Unavailable("password hashing"),
            e @ HashError::Failed(_) => ApiError::Internal(e.into()),
        }
    }
}

impl From<Refused> for ApiError {
    fn from(e: Refused) -> Self {
        match e {
            Refused::Throttled(t) => ApiError::TooManyRequests(t),
            Refused::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e.outage() {
            Ok(backend) => ApiError::Unavailable(backend),
            Err(other) => ApiError::Internal(other.into()),
        }
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(description) => ApiError::BadRequest {
                code: "invalid_request",
                description,
                fields: Vec::new(),
            },
            ManageError::NotFound => ApiError::NotFound,
            ManageError::Conflict(description) => ApiError::Conflict("conflict", description),
            ManageError::Store(e) => e.into(),
            ManageError::KeyRing(KeyRingError::Store(e)) => e.into(),
            ManageError::KeyRing(e) => ApiError::Internal(e.into()),
            ManageError::Hash(e) => e.into(),
        }
    }
}

impl From<MfaError> for ApiError {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::InvalidCode => ApiError::BadRequest {
                code: "invalid_code",
                description: "the code is wrong, already used, or expired".into(),
                fields: Vec::new(),
            },
            MfaError::AlreadyEnabled => {
                ApiError::Conflict("mfa_enabled", "TOTP is already enabled")
            }
            MfaError::NotEnabled => ApiError::Conflict("mfa_not_enabled", "TOTP is not enabled"),
            MfaError::Corrupt => ApiError::Internal(anyhow::anyhow!("stored TOTP secret unusable")),
            MfaError::Store(e) => e.into(),
        }
    }
}

impl From<FactorError> for ApiError {
    fn from(e: FactorError) -> Self {
        match e {
            FactorError::Reauthenticate => ApiError::Forbidden(
                "reauthentication_required",
                "sign in again, or send your current password as `password`",
            ),
            FactorError::WrongPassword => ApiError::InvalidCredentials,
            FactorError::Mfa(e) => e.into(),
            FactorError::Refused(e) => e.into(),
            FactorError::Hash(e) => e.into(),
            FactorError::Store(e) => e.into(),
        }
    }
}

/// Self-registration (`POST /api/v1/accounts`).
impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(fields) => ApiError::BadRequest {
                code: "invalid_request",
                description: "the registration is invalid".into(),
                fields,
            },
            AccountError::Taken => {
                ApiError::Conflict("email_taken", "an account with this email exists")
            }
            AccountError::Hash(e) => e.into(),
            AccountError::Store(e) => e.into(),
        }
    }
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::WrongPassword => ApiError::InvalidCredentials,
            ChangeError::Policy(fields) => ApiError::BadRequest {
                code: "invalid_request",
                description: "the new password is not acceptable".into(),
                fields,
            },
            ChangeError::Concurrent => {
                ApiError::Conflict("conflict", "the password was changed concurrently; retry")
            }
            ChangeError::Hash(e) => e.into(),
            ChangeError::Store(e) => e.into(),
        }
    }
}

impl From<ResetError> for ApiError {
    fn from(e: ResetError) -> Self {
        match e {
            ResetError::InvalidToken => ApiError::BadRequest {
                code: "invalid_token",
                description: "the reset token is invalid, used or expired".into(),
                fields: Vec::new(),
            },
            ResetError::Policy(fields) => ApiError::BadRequest {
                code: "invalid_request",
                description: "the new password is not acceptable".into(),
                fields,
            },
            ResetError::Hash(e) => e.into(),
            ResetError::Store(e) => e.into(),
        }
    }
}

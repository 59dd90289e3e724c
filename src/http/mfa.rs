//! The signed-in user's TOTP (SPEC S6, S8): `POST /api/v1/me/mfa/totp` (setup),
//! `POST /api/v1/me/mfa/totp/confirm`, `DELETE /api/v1/me/mfa/totp`,
//! `POST /api/v1/me/mfa/recovery-codes`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::{token_user, ResourceError};
use crate::auth::hashing::Verified;
use crate::domain::{Password, User};
use crate::error::ApiError;
use crate::mfa::{self, MfaError, TotpSetup};
use crate::startup::AppState;

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

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// A wrong code counts toward the account's lockout, like a wrong password.
async fn counted(state: &AppState, user: &User, req: &HttpRequest) -> Result<(), ApiError> {
    let ip = super::token::peer_ip(req);
    crate::abuse::login_attempt(state, &user.email, ip.as_deref()).await?;
    Ok(())
}

async fn cleared(state: &AppState, user: &User) {
    if let Err(e) = crate::abuse::clear_lockout(state, &user.email).await {
        tracing::warn!(user_id = %user.id, error = %e, "could not clear the failed-attempt count");
    }
}

/// Starts TOTP enrolment: a new secret (pending until confirmed), its otpauth URI and a QR code.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret, shown once", body = TotpSetup),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 409, description = "TOTP is already enabled", body = crate::error::ErrorBody)))]
pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ResourceError> {
    let (_, user) = token_user(&req, &state).await?;
    let setup = mfa::setup(&state, &user).await.map_err(ApiError::from)?;
    Ok(no_store().json(setup))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// A current 6-digit code from the authenticator.
    #[schema(max_length = 16)]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Single-use codes for when the authenticator is lost; shown once.
    pub recovery_codes: Vec<String>,
}

/// Confirms enrolment with a first code; answers 10 recovery codes.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/confirm", tag = "accounts",
    security(("bearer" = [])),
    request_body = Code,
    responses(
        (status = 200, description = "TOTP is on", body = RecoveryCodes),
        (status = 400, description = "Wrong, used or malformed code (`invalid_code`)", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 409, description = "Already enabled, or no setup started", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong codes: the account is locked", body = crate::error::ErrorBody)))]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Code>,
) -> Result<HttpResponse, ResourceError> {
    let (_, user) = token_user(&req, &state).await?;
    counted(&state, &user, &req).await?;
    let codes = mfa::confirm(&state, &user, &body.code)
        .await
        .map_err(ApiError::from)?;
    cleared(&state, &user).await;
    Ok(no_store().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Disable {
    #[schema(max_length = 1024)]
    pub password: String,
    #[schema(max_length = 16)]
    pub code: String,
}

/// Turns TOTP off; needs the password and a current code.
#[utoipa::path(delete, path = "/api/v1/me/mfa/totp", tag = "accounts",
    security(("bearer" = [])),
    request_body = Disable,
    responses(
        (status = 204, description = "TOTP is off; the recovery codes are gone"),
        (status = 400, description = "Wrong code (`invalid_code`)", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or invalid token, or wrong password", body = crate::error::ErrorBody),
        (status = 409, description = "TOTP is not enabled", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong attempts: the account is locked", body = crate::error::ErrorBody)))]
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Disable>,
) -> Result<HttpResponse, ResourceError> {
    let (_, user) = token_user(&req, &state).await?;
    counted(&state, &user, &req).await?;
    let Disable { password, code } = body.into_inner();
    let verified = state
        .hasher
        .verify(Password::new(password), Some(user.password_hash.clone()))
        .await
        .map_err(|_| ApiError::Unavailable("password hashing"))?;
    if !matches!(verified, Verified::Yes { .. }) {
        return Err(ApiError::InvalidCredentials.into());
    }
    mfa::verify(&state, &user, Some(&code), None)
        .await
        .map_err(ApiError::from)?;
    mfa::disable(&state, &user).await.map_err(ApiError::from)?;
    cleared(&state, &user).await;
    Ok(HttpResponse::NoContent().finish())
}

/// New recovery codes (the old ones stop working); needs a current code.
#[utoipa::path(post, path = "/api/v1/me/mfa/recovery-codes", tag = "accounts",
    security(("bearer" = [])),
    request_body = Code,
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodes),
        (status = 400, description = "Wrong code (`invalid_code`)", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 409, description = "TOTP is not enabled", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong codes: the account is locked", body = crate::error::ErrorBody)))]
pub async fn recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Code>,
) -> Result<HttpResponse, ResourceError> {
    let (_, user) = token_user(&req, &state).await?;
    counted(&state, &user, &req).await?;
    mfa::verify(&state, &user, Some(&body.code), None)
        .await
        .map_err(ApiError::from)?;
    let codes = mfa::new_recovery_codes(&state, &user)
        .await
        .map_err(ApiError::from)?;
    cleared(&state, &user).await;
    Ok(no_store().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

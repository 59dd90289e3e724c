//! The signed-in user's TOTP (book § Endpoints, RFC 6238): `POST /api/v1/me/mfa/totp` (setup),
//! `POST /api/v1/me/mfa/totp/confirm`, `DELETE /api/v1/me/mfa/totp`,
//! `POST /api/v1/me/mfa/recovery-codes`.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::{AccountUser, Bearer};
use super::error::{ApiError, ResourceError};
use super::extract::ClientIp;
use crate::domain::Password;
use crate::service::access::TokenUser;
use crate::service::mfa::account::CodeChange;
use crate::service::mfa::TotpSetup;
use crate::state::AppState;

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// An optional JSON body holding the current password.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Reauth {
    /// The current password; needed when the sign-in is older than five minutes.
    #[schema(max_length = 1024)]
    pub password: Option<String>,
}

impl Reauth {
    /// The password of an optional JSON body (none in an empty one).
    pub(super) fn password_in(body: &[u8]) -> Result<Option<Password>, ApiError> {
        let reauth: Reauth = super::admin::parse_optional_json(body)?;
        Ok(reauth.password.map(Password::new))
    }
}

/// Starts TOTP enrolment: a new secret (pending until confirmed), its otpauth URI and a QR code.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", tag = "accounts",
    security(("bearer" = [])),
    request_body(content = Option<Reauth>, content_type = "application/json"),
    responses(
        (status = 200, description = "The secret, shown once", body = TotpSetup),
        (status = 400, description = "Invalid body", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountTokenOrPasswordRefused,
        crate::http::error::responses::ReauthenticationRequired,
        crate::http::error::responses::AccountLocked,
        (status = 409, description = "TOTP is already enabled", body = crate::http::error::ErrorBody)))]
pub async fn setup(
    state: web::Data<AppState>,
    body: web::Bytes,
    ip: ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let password = Reauth::password_in(&body)?;
    let setup = state
        .account
        .start(&session, password, ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(no_store().json(setup))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// A current 6-digit code from the authenticator.
    #[schema(max_length = 16)]
    pub code: String,
    /// The current password; needed when the sign-in is older than five minutes.
    #[schema(max_length = 1024)]
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Single-use codes for when the authenticator is lost; shown once.
    pub recovery_codes: Vec<String>,
}

redacted_debug!(RecoveryCodes);

/// Confirms enrolment with a first code; answers 10 recovery codes.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/confirm", tag = "accounts",
    security(("bearer" = [])),
    request_body = Code,
    responses(
        (status = 200, description = "TOTP is on", body = RecoveryCodes),
        (status = 400, description = "Wrong, used or malformed code (`invalid_code`)", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountTokenOrPasswordRefused,
        crate::http::error::responses::ReauthenticationRequired,
        (status = 409, description = "Already enabled, or no setup started", body = crate::http::error::ErrorBody),
        crate::http::error::responses::TooManyWrongCodes))]
pub async fn confirm(
    state: web::Data<AppState>,
    body: web::Json<Code>,
    ip: ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    code_change(&state, body, ip, &session, CodeChange::ConfirmEnrolment).await
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
        crate::http::error::responses::WrongCode,
        (status = 401, description = "Missing or invalid token, or wrong password", body = crate::http::error::ErrorBody),
        crate::http::error::responses::TotpNotEnabled,
        (status = 429, description = "Too many wrong attempts: the account is locked", body = crate::http::error::ErrorBody)))]
pub async fn disable(
    state: web::Data<AppState>,
    body: web::Json<Disable>,
    ip: ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let Disable { password, code } = body.into_inner();
    state
        .account
        .disable(&session, Password::new(password), &code, ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// New recovery codes (the old ones stop working); needs a current code.
#[utoipa::path(post, path = "/api/v1/me/mfa/recovery-codes", tag = "accounts",
    security(("bearer" = [])),
    request_body = Code,
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodes),
        crate::http::error::responses::WrongCode,
        crate::http::error::responses::AccountTokenOrPasswordRefused,
        crate::http::error::responses::ReauthenticationRequired,
        crate::http::error::responses::TotpNotEnabled,
        crate::http::error::responses::TooManyWrongCodes))]
pub async fn recovery_codes(
    state: web::Data<AppState>,
    body: web::Json<Code>,
    ip: ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    code_change(&state, body, ip, &session, CodeChange::NewRecoveryCodes).await
}

/// Confirm and recovery-codes alike: a code (and maybe the password) in, codes out.
async fn code_change(
    state: &AppState,
    body: web::Json<Code>,
    ip: ClientIp,
    session: &TokenUser,
    change: CodeChange,
) -> Result<HttpResponse, ResourceError> {
    let Code { code, password } = body.into_inner();
    let password = password.map(Password::new);
    let codes = state
        .account
        .recovery_codes(session, change, &code, password, ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(no_store().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

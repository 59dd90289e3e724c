//! The signed-in user's TOTP (SPEC S6, S8): `POST /api/v1/me/mfa/totp` (setup),
//! `POST /api/v1/me/mfa/totp/confirm`, `DELETE /api/v1/me/mfa/totp`,
//! `POST /api/v1/me/mfa/recovery-codes`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::{account_user, ResourceError};
use crate::auth::hashing::Verified;
use crate::domain::{Password, User};
use crate::http::error::ApiError;
use crate::service::mfa::{self, MfaError, TotpSetup};
use crate::state::AppState;
use crate::tokens::AccessClaims;

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
    let ip = super::extract::peer_ip(req);
    crate::service::abuse::login_attempt(state, &user.email, ip.as_deref()).await?;
    Ok(())
}

async fn cleared(state: &AppState, user: &User, req: &HttpRequest) {
    let ip = super::extract::peer_ip(req);
    crate::service::abuse::login_succeeded(state, &user.email, ip.as_deref()).await;
}

/// How recent a sign-in must be to change the second factor without the password again.
const RECENT_AUTH_SECS: i64 = 300;

/// Changing the second factor needs a sign-in within the last five minutes (`auth_time`)
/// or the current password now (SPEC S6); a wrong password counts toward the lockout.
async fn require_recent_auth(
    state: &AppState,
    req: &HttpRequest,
    claims: &AccessClaims,
    user: &User,
    password: Option<String>,
) -> Result<(), ApiError> {
    let now = state.clock.now().unix_timestamp();
    if claims
        .auth_time
        .is_some_and(|t| now - t <= RECENT_AUTH_SECS)
        && password.is_none()
    {
        return Ok(());
    }
    let Some(password) = password else {
        return Err(ApiError::Forbidden(
            "reauthentication_required",
            "sign in again, or send your current password as `password`",
        ));
    };
    counted(state, user, req).await?;
    current_password(state, user, password).await
}

/// The user's current password, checked on the hashing pool; one longer than any password
/// can be is wrong without being hashed.
async fn current_password(state: &AppState, user: &User, password: String) -> Result<(), ApiError> {
    if password.len() > crate::domain::password::MAX_PASSWORD_BYTES {
        return Err(ApiError::InvalidCredentials);
    }
    let verified = state
        .hasher
        .verify(Password::new(password), Some(user.password_hash.clone()))
        .await
        .map_err(|_| ApiError::Unavailable("password hashing"))?;
    match verified {
        Verified::Yes { .. } => Ok(()),
        Verified::No => Err(ApiError::InvalidCredentials),
    }
}

/// A change of the second factor ends every other session of the user (SPEC S6).
async fn end_other_sessions(
    state: &AppState,
    user: &User,
    claims: &AccessClaims,
) -> Result<(), ApiError> {
    let ended = state
        .stores
        .families
        .revoke_user_sessions(user.id, claims.sid.as_deref())
        .await?;
    tracing::info!(user_id = %user.id, other_sessions_ended = ended, "second factor changed");
    Ok(())
}

/// An optional JSON body holding the current password.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Reauth {
    /// The current password; needed when the sign-in is older than five minutes.
    #[schema(max_length = 1024)]
    pub password: Option<String>,
}

/// Starts TOTP enrolment: a new secret (pending until confirmed), its otpauth URI and a QR code.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", tag = "accounts",
    security(("bearer" = [])),
    request_body(content = Option<Reauth>, content_type = "application/json"),
    responses(
        (status = 200, description = "The secret, shown once", body = TotpSetup),
        (status = 400, description = "Invalid body", body = crate::http::error::ErrorBody),
        (status = 401, description = "Missing or invalid token, a token not for the account API, or a wrong password", body = crate::http::error::ErrorBody),
        (status = 403, description = "`reauthentication_required`: the sign-in is older than five minutes; send `password`", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many wrong passwords: the account is locked", body = crate::http::error::ErrorBody),
        (status = 409, description = "TOTP is already enabled", body = crate::http::error::ErrorBody)))]
pub async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ResourceError> {
    let (claims, user) = account_user(&req, &state).await?;
    let reauth: Reauth = super::admin::parse_optional_json(&body)?;
    require_recent_auth(&state, &req, &claims, &user, reauth.password).await?;
    let setup = mfa::setup(&state, &user).await.map_err(ApiError::from)?;
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
        (status = 401, description = "Missing or invalid token, a token not for the account API, or a wrong password", body = crate::http::error::ErrorBody),
        (status = 403, description = "`reauthentication_required`: the sign-in is older than five minutes; send `password`", body = crate::http::error::ErrorBody),
        (status = 409, description = "Already enabled, or no setup started", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many wrong codes: the account is locked", body = crate::http::error::ErrorBody)))]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Code>,
) -> Result<HttpResponse, ResourceError> {
    let (claims, user) = account_user(&req, &state).await?;
    let Code { code, password } = body.into_inner();
    require_recent_auth(&state, &req, &claims, &user, password).await?;
    counted(&state, &user, &req).await?;
    let codes = mfa::confirm(&state, &user, &code)
        .await
        .map_err(ApiError::from)?;
    cleared(&state, &user, &req).await;
    end_other_sessions(&state, &user, &claims).await?;
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
        (status = 400, description = "Wrong code (`invalid_code`)", body = crate::http::error::ErrorBody),
        (status = 401, description = "Missing or invalid token, or wrong password", body = crate::http::error::ErrorBody),
        (status = 409, description = "TOTP is not enabled", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many wrong attempts: the account is locked", body = crate::http::error::ErrorBody)))]
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Disable>,
) -> Result<HttpResponse, ResourceError> {
    let (claims, user) = account_user(&req, &state).await?;
    counted(&state, &user, &req).await?;
    let Disable { password, code } = body.into_inner();
    current_password(&state, &user, password).await?;
    mfa::verify(&state, &user, Some(&code), None)
        .await
        .map_err(ApiError::from)?;
    mfa::disable(&state, &user).await.map_err(ApiError::from)?;
    cleared(&state, &user, &req).await;
    end_other_sessions(&state, &user, &claims).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// New recovery codes (the old ones stop working); needs a current code.
#[utoipa::path(post, path = "/api/v1/me/mfa/recovery-codes", tag = "accounts",
    security(("bearer" = [])),
    request_body = Code,
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodes),
        (status = 400, description = "Wrong code (`invalid_code`)", body = crate::http::error::ErrorBody),
        (status = 401, description = "Missing or invalid token, a token not for the account API, or a wrong password", body = crate::http::error::ErrorBody),
        (status = 403, description = "`reauthentication_required`: the sign-in is older than five minutes; send `password`", body = crate::http::error::ErrorBody),
        (status = 409, description = "TOTP is not enabled", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many wrong codes: the account is locked", body = crate::http::error::ErrorBody)))]
pub async fn recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Code>,
) -> Result<HttpResponse, ResourceError> {
    let (claims, user) = account_user(&req, &state).await?;
    let Code { code, password } = body.into_inner();
    require_recent_auth(&state, &req, &claims, &user, password).await?;
    counted(&state, &user, &req).await?;
    mfa::verify(&state, &user, Some(&code), None)
        .await
        .map_err(ApiError::from)?;
    let codes = mfa::new_recovery_codes(&state, &user)
        .await
        .map_err(ApiError::from)?;
    cleared(&state, &user, &req).await;
    end_other_sessions(&state, &user, &claims).await?;
    Ok(no_store().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

//! Email addresses on the JSON API (book § Email): `POST /api/v1/email/verification` asks for
//! a new verification link, `POST /api/v1/me/email` asks to move the signed-in user's
//! account to a new address. Both answer `202` the same way whatever the address; the
//! links themselves open pages (`/email/verify`, `/email/confirm`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::bearer::{AccountUser, Bearer};
use super::error::{ApiError, ResourceError};
use super::extract::ClientIp;
use crate::domain::{Email, FieldError, Password};
use crate::state::AppState;

/// A body's `email` field as an address, or the `400` that names the field.
pub(crate) fn email_field(raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|e| ApiError::BadRequest {
        code: "invalid_request",
        description: format!("email: {e}"),
        fields: vec![FieldError {
            field: "email".into(),
            message: e.into(),
        }],
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resend {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

/// Sends the verification link again. Always `202` with nothing in the body, at the same
/// speed, whether or not the address has an account waiting for verification.
#[utoipa::path(post, path = "/api/v1/email/verification", tag = "accounts",
    request_body = Resend,
    responses(
        (status = 202, description = "Accepted; if the address has an unverified account, a new link is on its way"),
        (status = 400, description = "Not an email address", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many links asked for this address or from this client address; retry after Retry-After", body = crate::http::error::ErrorBody)))]
pub async fn resend(
    state: web::Data<AppState>,
    body: web::Json<Resend>,
    ClientIp(ip): ClientIp,
) -> Result<HttpResponse, ApiError> {
    let email = email_field(&body.email)?;
    state.email.resend(email, ip).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    /// The new address; a confirmation link goes there.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// The current password; needed when the sign-in is older than five minutes.
    #[schema(max_length = 1024)]
    pub password: Option<String>,
}

/// Asks to change the account's address: a link goes to the new address, and the change
/// happens when it is followed (the old address is then told). `202` whether or not the
/// new address has an account (its owner is told instead).
#[utoipa::path(post, path = "/api/v1/me/email", tag = "accounts",
    security(("bearer" = [])),
    request_body = EmailChange,
    responses(
        (status = 202, description = "Accepted; a confirmation link is on its way to the new address"),
        (status = 400, description = "Not an email address, or the account's own", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountTokenOrPasswordRefused,
        crate::http::error::responses::ReauthenticationRequired,
        crate::http::error::responses::AccountLocked,
        crate::http::error::responses::Busy))]
pub async fn change(
    state: web::Data<AppState>,
    body: web::Json<EmailChange>,
    ClientIp(ip): ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let EmailChange { email, password } = body.into_inner();
    state
        .email
        .request_change(&session, &email, password.map(Password::new), ip)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Accepted().finish())
}

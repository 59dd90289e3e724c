//! `POST /api/v1/password/forgot` and `POST /api/v1/password/reset` (book § Endpoints, book § Configuration).

use actix_web::{web, HttpResponse};

use super::extract::ClientIp;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::Password;
use crate::http::error::ApiError;
use crate::service::abuse::Bucket;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Forgot {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

/// Starts a password reset. Always `202` with nothing in the body, at the same speed,
/// whether or not the email has an account: the token is issued and delivered (webhook or
/// log sink) after the answer.
#[utoipa::path(post, path = "/api/v1/password/forgot", tag = "accounts",
    request_body = Forgot,
    responses(
        (status = 202, description = "Accepted; if the email has an account, a reset token is on its way"),
        (status = 400, description = "Not an email address", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many requests for this email or from this address; retry after Retry-After", body = crate::http::error::ErrorBody)))]
pub async fn forgot(
    state: web::Data<AppState>,
    body: web::Json<Forgot>,
    ClientIp(ip): ClientIp,
) -> Result<HttpResponse, ApiError> {
    let email = super::email::email_field(&body.email)?;
    state
        .limiter
        .check(Bucket::ForgotPerIp, ip.as_deref().unwrap_or_default())
        .await?;
    state
        .limiter
        .check(Bucket::ForgotPerEmail, email.as_str())
        .await?;
    let state = state.into_inner();
    tokio::spawn(async move { state.resets.request(email, ip).await });
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reset {
    /// The `tsp_…` token from the reset message.
    #[schema(max_length = 64)]
    pub token: String,
    /// Same policy as registration.
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// Sets a new password with a reset token (single use, 15 minutes by default). Every
/// session ends and every earlier access token stops working.
#[utoipa::path(post, path = "/api/v1/password/reset", tag = "accounts",
    request_body = Reset,
    responses(
        (status = 204, description = "The password is set; log in with it"),
        (status = 400, description = "Invalid, used or expired token (`invalid_token`), or a password the policy refuses (`fields` names each rule)", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many attempts from this address", body = crate::http::error::ErrorBody),
        crate::http::error::responses::Busy))]
pub async fn reset(
    state: web::Data<AppState>,
    body: web::Json<Reset>,
    ClientIp(ip): ClientIp,
) -> Result<HttpResponse, ApiError> {
    state
        .limiter
        .check(Bucket::ResetPerIp, ip.as_deref().unwrap_or_default())
        .await?;
    let Reset {
        token,
        new_password,
    } = body.into_inner();
    state
        .resets
        .complete(&token, Password::new(new_password), ip)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

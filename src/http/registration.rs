//! `POST /api/v1/accounts` (book § Endpoints, book § Email): registration. A duplicate email
//! costs the same work as a new account (the password is hashed either way). With email
//! verification on (the default), every acceptable registration answers `202` with the
//! same body: a new account gets a verification link, the owner of a taken address a
//! notice. With it off, a new account answers `201` and a taken address `409`.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::ClientIp;
use crate::domain::Password;
use crate::service::abuse::Bucket;
use crate::service::accounts::{self, AccountRequest};
use crate::service::admin::Operator;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// At most 254 bytes.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// 12 to 1024 bytes, strong (zxcvbn ≥ 3), not containing the email's local part.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    pub id: uuid::Uuid,
    pub email: String,
    pub email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

impl From<crate::domain::User> for Account {
    fn from(u: crate::domain::User) -> Self {
        Account {
            id: *u.id.as_uuid(),
            email: u.email.as_str().to_owned(),
            email_verified: u.email_verified,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

/// The answer to a registration while email verification is on: the same for an address
/// that has an account and one that does not.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckEmail {
    /// Always `check_email`: a message is on its way to the address.
    pub status: &'static str,
    /// The address, normalized.
    pub email: String,
}

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts",
    request_body = Registration,
    responses(
        (status = 201, description = "Created (email verification off)", body = Account),
        (status = 202, description = "Email verification on: the same answer whether or not the address has an account; a link (or, for a taken address, a notice) is on its way", body = CheckEmail),
        (status = 400, description = "Invalid input; `fields` names each problem", body = crate::http::error::ErrorBody),
        (status = 409, description = "The email is taken (email verification off)", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many registrations from this address; retry after Retry-After", body = crate::http::error::ErrorBody),
        crate::http::error::responses::Busy))]
pub async fn register(
    ip: ClientIp,
    state: web::Data<AppState>,
    body: web::Json<Registration>,
) -> Result<HttpResponse, ApiError> {
    let subject = ip.as_deref().unwrap_or_default();
    state.limiter.check(Bucket::RegisterPerIp, subject).await?;
    let Registration {
        email,
        password,
        name,
    } = body.into_inner();
    let request = AccountRequest {
        email,
        password: Password::new(password),
        name,
        email_verified: false,
        ip: ip.0.clone(),
    };
    let operator = Operator {
        actor: "self-registration".to_owned(),
        now: state.clock.now(),
    };
    let min_bytes = state.settings.password.min_bytes;
    let addresses = &state.email;
    let created = accounts::create(
        &state.stores,
        &state.hasher,
        request,
        min_bytes,
        &operator,
        |id, email| addresses.welcome(id, email),
    )
    .await;
    if !addresses.mode().is_on() {
        return Ok(HttpResponse::Created().json(Account::from(created?)));
    }
    let email = match created {
        Ok(user) => {
            state.outbox.wake();
            user.email
        }
        Err(accounts::AccountError::Taken(email)) => {
            addresses.registration_attempt(email.clone(), ip.0).await;
            email
        }
        Err(e) => return Err(e.into()),
    };
    Ok(HttpResponse::Accepted().json(CheckEmail {
        status: "check_email",
        email: email.as_str().to_owned(),
    }))
}

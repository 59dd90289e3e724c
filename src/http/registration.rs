//! `POST /api/v1/accounts` (book § Endpoints, book § Configuration): registration. A duplicate email costs the same
//! work as a new account (the password is hashed either way) and answers 409.

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

/// Creates an account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts",
    request_body = Registration,
    responses(
        (status = 201, description = "Created", body = Account),
        (status = 400, description = "Invalid input; `fields` names each problem", body = crate::http::error::ErrorBody),
        (status = 409, description = "The email is taken", body = crate::http::error::ErrorBody),
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
        ip: ip.0,
    };
    let operator = Operator {
        actor: "self-registration".to_owned(),
        now: state.clock.now(),
    };
    let min_bytes = state.settings.password.min_bytes;
    let user =
        accounts::create(&state.stores, &state.hasher, request, min_bytes, &operator).await?;
    Ok(HttpResponse::Created().json(Account::from(user)))
}

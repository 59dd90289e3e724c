//! `POST /api/v1/accounts` (SPEC S6, S7): registration. A duplicate email costs the same
//! work as a new account (the password is hashed either way) and answers 409.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::policy;
use crate::domain::{Email, Password};
use crate::http::error::{ApiError, FieldError};
use crate::state::AppState;
use crate::store::{CreateUserError, NewUser};

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
            id: u.id,
            email: u.email.as_str().to_owned(),
            email_verified: u.email_verified,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
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
        (status = 503, description = "Busy; retry after Retry-After", body = crate::http::error::ErrorBody)))]
pub async fn register(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Registration>,
) -> Result<HttpResponse, ApiError> {
    let ip = super::extract::peer_ip(&req).unwrap_or_default();
    crate::service::abuse::check(&state, crate::service::abuse::Bucket::RegisterPerIp, &ip).await?;
    let Registration {
        email,
        password,
        name,
    } = body.into_inner();
    let password = Password::new(password);
    let mut problems = Vec::new();
    let email = Email::parse(&email)
        .map_err(|e| problems.push(field("email", e)))
        .ok();
    let name = crate::domain::display_name(name.as_deref())
        .map_err(|e| problems.push(field("name", e)))
        .ok()
        .flatten();
    if let Some(email) = &email {
        problems.extend(policy::check(
            &password,
            email,
            name.as_deref(),
            state.settings.password.min_bytes,
        ));
    }
    let Some(email) = email.filter(|_| problems.is_empty()) else {
        return Err(ApiError::BadRequest {
            code: "invalid_request",
            description: "the registration is invalid".into(),
            fields: problems,
        });
    };
    let password_hash = state
        .hasher
        .hash(password)
        .await
        .map_err(|_| ApiError::Unavailable("password hashing"))?;
    let new = NewUser {
        email,
        name,
        email_verified: false,
        password_hash,
    };
    match state.stores.users.create_user(new, state.clock.now()).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "account registered");
            Ok(HttpResponse::Created().json(Account::from(user)))
        }
        Err(CreateUserError::Duplicate) => Err(ApiError::Conflict(
            "email_taken",
            "an account with this email exists",
        )),
        Err(CreateUserError::Store(e)) => Err(e.into()),
    }
}

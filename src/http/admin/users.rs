//! `/admin/users` (book § Endpoints): create, find, end sessions, delete, bulk import, and a
//! user's passkeys (book § Passkeys).

use actix_web::web;
use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::AdminCaller;
use crate::domain::UserId;
use crate::domain::{Email, Password, User};
use crate::http::error::ApiError;
use crate::service::accounts::AccountRequest;
use crate::service::admin::{self, Ending, ImportReport, Operator};
use crate::state::AppState;

/// Largest import body: about 20,000 lines of bcrypt users.
const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::post().to(create))
        .route("/users", web::get().to(find))
        .service(
            web::resource("/users/import")
                .app_data(web::PayloadConfig::new(MAX_IMPORT_BYTES))
                .route(web::post().to(import)),
        )
        .route("/users/{id}", web::get().to(get))
        .route("/users/{id}", web::delete().to(delete))
        .route(
            "/users/{id}/revoke-sessions",
            web::post().to(revoke_sessions),
        )
        .route("/users/{id}/unlock", web::post().to(unlock))
        .route(
            "/users/{id}/email-verified",
            web::put().to(set_email_verified),
        )
        .route("/users/{id}/passkeys", web::get().to(user_passkeys))
        .route("/users/{id}/identities", web::get().to(user_identities))
        .route(
            "/users/{id}/passkeys/{passkey}",
            web::delete().to(delete_user_passkey),
        );
}

/// A user as operators see it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    /// False for an account an upstream provider made (it signs in through its links, or
    /// a passkey, until a password is set by a reset).
    pub has_password: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView {
            id: *user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            has_password: user.has_password(),
            created_at: user.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(max_length = 254)]
    pub email: String,
    /// Must pass the password policy (length, strength, not containing the email).
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
}

/// Creates a user with a password.
#[utoipa::path(post, path = "/admin/users", tag = "admin",
    security(("admin_token" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid email, name or password (each rule named)", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused,
        (status = 409, description = "A user with this email exists", body = crate::http::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = AccountRequest {
        email: body.email,
        password: Password::new(body.password),
        name: body.name,
        email_verified: body.email_verified,
        ip: None,
    };
    let user = admin::create_user(
        &state.stores,
        &state.hasher,
        request,
        state.settings.password.min_bytes,
        &operator,
    )
    .await?;
    Ok(HttpResponse::Created().json(UserView::from(&user)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FindQuery {
    /// The email to look up (normalized as at login).
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

/// Looks a user up by email: an empty list when there is none.
#[utoipa::path(get, path = "/admin/users", tag = "admin",
    security(("admin_token" = [])),
    params(FindQuery),
    responses(
        (status = 200, description = "Zero or one user", body = UserList),
        (status = 400, description = "Missing or malformed email", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused))]
pub async fn find(
    state: web::Data<AppState>,
    query: web::Query<FindQuery>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&query.email).map_err(|e| super::invalid("email", e))?;
    let user = admin::find_by_email(&state.stores, &email).await?;
    Ok(HttpResponse::Ok().json(UserList {
        users: user.iter().map(UserView::from).collect(),
    }))
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// One user.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchUser))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = admin::existing_user(&state.stores, user_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsRevoked {
    pub sessions_revoked: usize,
}

/// Ends every session of the user; their access tokens stop introspecting as active.
#[utoipa::path(post, path = "/admin/users/{id}/revoke-sessions", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Sessions ended", body = SessionsRevoked),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchUser))]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    end_user(&state, &id, Ending::Sessions, &operator).await
}

/// Revoke-sessions and delete alike: the sessions end, and the count is answered.
async fn end_user(
    state: &AppState,
    id: &str,
    ending: Ending,
    operator: &Operator,
) -> Result<HttpResponse, ApiError> {
    let (stores, settings) = (&state.stores, &state.settings);
    let ended = admin::end_user(stores, settings, user_id(id)?, ending, operator).await?;
    Ok(HttpResponse::Ok().json(SessionsRevoked {
        sessions_revoked: ended,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unlocked {
    pub unlocked: uuid::Uuid,
}

/// Clears the account's failed-login count and lock, so the user can log in at once.
#[utoipa::path(post, path = "/admin/users/{id}/unlock", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Unlocked", body = Unlocked),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchUser))]
pub async fn unlock(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = user_id(&id)?;
    admin::unlock_user(&state.stores, user, &operator).await?;
    Ok(HttpResponse::Ok().json(Unlocked {
        unlocked: *user.as_uuid(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailVerified {
    pub email_verified: bool,
}

/// Marks the user's email address verified (or not), as the operator vouches; audited as
/// `email_verified_set`. Tokens issued from now on carry it as `email_verified`.
#[utoipa::path(put, path = "/admin/users/{id}/email-verified", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    request_body = EmailVerified,
    responses(
        (status = 200, description = "The user, changed", body = UserView),
        (status = 400, description = "Invalid body", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchUser))]
pub async fn set_email_verified(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    id: web::Path<String>,
    body: web::Json<EmailVerified>,
) -> Result<HttpResponse, ApiError> {
    let user = user_id(&id)?;
    let verified = body.email_verified;
    let user = admin::set_email_verified(&state.stores, user, verified, &operator).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

/// Deletes the user after ending every session and access token.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "Deleted", body = SessionsRevoked),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchUser))]
pub async fn delete(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    end_user(&state, &id, Ending::Account, &operator).await
}

/// The user's passkeys, oldest first.
#[utoipa::path(get, path = "/admin/users/{id}/passkeys", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user's passkeys", body = crate::http::passkeys::PasskeyList),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchUser))]
pub async fn user_passkeys(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let passkeys = admin::user_passkeys(&state.stores, user_id(&id)?).await?;
    let passkeys = passkeys.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(crate::http::passkeys::PasskeyList { passkeys }))
}

/// The user's links to upstream providers, oldest first.
#[utoipa::path(get, path = "/admin/users/{id}/identities", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "`{identities: [{id, provider, subject, email, linked_at}]}`", body = crate::http::me_identities::IdentityList),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchUser))]
pub async fn user_identities(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let links = admin::user_identities(&state.stores, user_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(crate::http::me_identities::IdentityList::from(links)))
}

/// Deletes one of the user's passkeys; their sessions go on (`revoke-sessions` ends them).
#[utoipa::path(delete, path = "/admin/users/{id}/passkeys/{passkey}", tag = "admin",
    security(("admin_token" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "User id"),
        ("passkey" = uuid::Uuid, Path, description = "Passkey id")),
    responses(
        (status = 204, description = "Deleted"),
        crate::http::error::responses::AdminTokenRefused,
        (status = 404, description = "No such user, or no such passkey of theirs", body = crate::http::error::ErrorBody)))]
pub async fn delete_user_passkey(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, passkey) = path.into_inner();
    let passkey = passkey.parse().map_err(|_| ApiError::NotFound)?;
    let user = user_id(&id)?;
    admin::delete_user_passkey(&state.stores, user, passkey, &state.outbox, &operator).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Imports JSON lines `{"email","password_hash","name"?,"email_verified"?}` with bcrypt
/// (`$2a$`/`$2b$`/`$2y$`) or argon2 PHC hashes; each refused line is reported by number and
/// the others are still imported. Up to 4 MiB per request.
#[utoipa::path(post, path = "/admin/users/import", tag = "admin",
    security(("admin_token" = [])),
    request_body(content = Vec<admin::ImportLine>, content_type = "application/x-ndjson",
        description = "JSON lines: each item of this array as one JSON object on a line of its own (newline-delimited JSON), not a JSON array"),
    responses(
        (status = 200, description = "What was imported and what was refused", body = ImportReport),
        (status = 400, description = "The body is not UTF-8 text", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused,
        (status = 413, description = "Body over 4 MiB", body = crate::http::error::ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest {
        code: "invalid_request",
        description: "the import must be UTF-8 JSON lines".into(),
        fields: Vec::new(),
    })?;
    let report = admin::import_users(&state.stores, text, &operator).await;
    Ok(HttpResponse::Ok().json(report))
}

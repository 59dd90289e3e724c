//! Passkeys on the JSON API (WebAuthn Level 3, book § Passkeys).
//!
//! Sign-in, a cookie endpoint like `POST /api/v1/session`: `POST /api/v1/session/passkey/options`
//! and `POST /api/v1/session/passkey`. The signed-in user's passkeys:
//! `POST /api/v1/me/passkeys/options`, `POST /api/v1/me/passkeys`, `GET /api/v1/me/passkeys`,
//! `PATCH /api/v1/me/passkeys/{id}` and `DELETE /api/v1/me/passkeys/{id}`.
//!
//! An options answer is `{"ceremony", "publicKey"}`, `publicKey` being the WebAuthn options
//! as JSON (binary members base64url), as `PublicKeyCredential.parseCreationOptionsFromJSON`
//! and `parseRequestOptionsFromJSON` take them; a finish brings back the ceremony and the
//! credential's `toJSON()`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::bearer::{AccountUser, Bearer};
use super::cookie_session::{require_allowed_origin, respond, spa_client, SessionTokens};
use super::error::{ApiError, ResourceError};
use super::extract::ClientIp;
use super::me_mfa::Reauth;
use crate::domain::PasskeyId;
use crate::service::grants::password as login;
use crate::service::passkeys::Ceremony;
use crate::state::AppState;
use crate::store::StoredPasskey;

/// A ceremony's options for `navigator.credentials.create()` or `.get()`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyOptions {
    /// Send it back with the credential; single use, five minutes.
    pub ceremony: String,
    /// The WebAuthn options (`PublicKeyCredentialCreationOptionsJSON` or
    /// `PublicKeyCredentialRequestOptionsJSON`).
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
}

impl From<Ceremony> for CeremonyOptions {
    fn from(c: Ceremony) -> Self {
        CeremonyOptions {
            ceremony: c.id,
            public_key: c.public_key,
        }
    }
}

fn no_store(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The credential of a finish, read into the WebAuthn library's type: a malformed one is
/// a 400 naming the field.
pub(super) fn credential<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest {
        code: "invalid_request",
        description: format!("credential: not a PublicKeyCredential's JSON ({e})"),
        fields: Vec::new(),
    })
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SignInOptionsRequest {
    /// List this user's passkeys in `allowCredentials`; without it, a discoverable sign-in.
    #[schema(format = "email", max_length = 254)]
    pub email: Option<String>,
    /// The second step of a password sign-in (`mfa_required`'s token): a ceremony that
    /// lists that user's passkeys, for `POST /api/v1/session/mfa`. Not with `email`.
    #[schema(max_length = 128)]
    pub mfa_token: Option<String>,
}

/// Starts a passkey sign-in.
#[utoipa::path(post, path = "/api/v1/session/passkey/options", tag = "session",
    request_body(content = Option<SignInOptionsRequest>, content_type = "application/json"),
    params(("Origin" = String, Header, description = "Must be an allowed origin")),
    responses(
        (status = 200, description = "The ceremony and its `PublicKeyCredentialRequestOptionsJSON`", body = CeremonyOptions),
        (status = 400, description = "Invalid body, or (`no_passkey`) a second step for an account without a passkey", body = crate::http::error::ErrorBody),
        (status = 401, description = "The `mfa_token` is unknown, used or expired", body = crate::http::error::ErrorBody),
        (status = 403, description = "Origin not allowed", body = crate::http::error::ErrorBody),
        (status = 404, description = "Passkeys are off on this server (no WebAuthn relying party)", body = crate::http::error::ErrorBody),
        (status = 429, description = "Rate limit: retry after Retry-After", body = crate::http::error::ErrorBody),
        crate::http::error::responses::Busy))]
pub async fn passkey_sign_in_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    ip: ClientIp,
) -> Result<HttpResponse, ApiError> {
    require_allowed_origin(&req, &state)?;
    let body: SignInOptionsRequest = super::admin::parse_optional_json(&body)?;
    let authenticator = &state.authenticator;
    let ceremony = match (body.email, body.mfa_token) {
        (email, None) => {
            let options = authenticator.passkey_options(email.as_deref(), ip.as_deref());
            options.await?
        }
        (None, Some(mfa_token)) => {
            let options = authenticator.second_factor_options(&mfa_token, ip.as_deref());
            options.await?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest {
                code: "invalid_request",
                description: "send email or mfa_token, not both".into(),
                fields: Vec::new(),
            })
        }
    };
    Ok(no_store(CeremonyOptions::from(ceremony)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignIn {
    #[schema(max_length = 128)]
    pub ceremony: String,
    /// The assertion: `PublicKeyCredential.toJSON()` of `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: Value,
    /// A first-party client; defaults to `spa`.
    #[schema(max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    pub client_id: Option<String>,
}

/// Signs in with a passkey: the same answer as `POST /api/v1/session`.
#[utoipa::path(post, path = "/api/v1/session/passkey", tag = "session",
    request_body = PasskeySignIn,
    params(("Origin" = String, Header, description = "Must be an allowed origin")),
    responses(
        (status = 200, description = "Signed in; refresh token set in the tessera_rt cookie", body = SessionTokens),
        (status = 400, description = "Invalid body, or a ceremony that is unknown, used or expired", body = crate::http::error::ErrorBody),
        (status = 401, description = "The passkey is unknown, or its response did not verify (origin, RP ID, challenge, signature, or a sign counter that went backwards)", body = crate::http::error::ErrorBody),
        (status = 403, description = "Origin not allowed, or client not first-party", body = crate::http::error::ErrorBody),
        (status = 404, description = "Passkeys are off on this server", body = crate::http::error::ErrorBody),
        (status = 429, description = "Rate limit or account lock: retry after Retry-After", body = crate::http::error::ErrorBody),
        crate::http::error::responses::Busy))]
pub async fn passkey_sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<PasskeySignIn>,
) -> Result<HttpResponse, ApiError> {
    require_allowed_origin(&req, &state)?;
    let PasskeySignIn {
        ceremony,
        credential: assertion,
        client_id,
    } = body.into_inner();
    let client = spa_client(&state, client_id.as_deref()).await?;
    let assertion = credential(assertion)?;
    let meta = super::extract::session_meta(&req);
    let tokens = login::passkey(&state.grants, &client, &ceremony, &assertion, &meta)
        .await
        .map_err(ApiError::from_cookie_grant)?;
    Ok(respond(&state, tokens))
}

/// One of the user's passkeys.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyView {
    #[schema(value_type = String, format = Uuid)]
    pub id: PasskeyId,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last sign-in with it; null until then.
    pub last_used_at: Option<i64>,
    /// Whether the authenticator reports it backed up (synced to other devices).
    pub backed_up: bool,
}

impl From<StoredPasskey> for PasskeyView {
    fn from(p: StoredPasskey) -> Self {
        PasskeyView {
            id: p.id,
            name: p.name,
            created_at: p.created_at.unix_timestamp(),
            last_used_at: p.last_used_at.map(|t| t.unix_timestamp()),
            backed_up: p.backed_up,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

/// Starts registering a passkey: a sign-in within five minutes, or the password.
#[utoipa::path(post, path = "/api/v1/me/passkeys/options", tag = "accounts",
    security(("bearer" = [])),
    request_body(content = Option<Reauth>, content_type = "application/json"),
    responses(
        (status = 200, description = "The ceremony and its `PublicKeyCredentialCreationOptionsJSON`", body = CeremonyOptions),
        (status = 400, description = "Invalid body", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountTokenOrPasswordRefused,
        crate::http::error::responses::ReauthenticationRequired,
        (status = 404, description = "Passkeys are off on this server", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountLocked))]
pub async fn passkey_registration_options(
    state: web::Data<AppState>,
    body: web::Bytes,
    ip: ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let password = Reauth::password_in(&body)?;
    let ceremony = state
        .account
        .passkey_options(&session, password, ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(no_store(CeremonyOptions::from(ceremony)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistration {
    #[schema(max_length = 128)]
    pub ceremony: String,
    /// `PublicKeyCredential.toJSON()` of `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: Value,
    /// A name to tell it by; "Passkey" if none.
    #[schema(max_length = 64)]
    pub name: Option<String>,
}

/// Registers a passkey; the user's other sessions end.
#[utoipa::path(post, path = "/api/v1/me/passkeys", tag = "accounts",
    security(("bearer" = [])),
    request_body = PasskeyRegistration,
    responses(
        (status = 200, description = "Registered", body = PasskeyView),
        (status = 400, description = "Invalid body or name, or a ceremony that is unknown, used, expired or another user's", body = crate::http::error::ErrorBody),
        (status = 401, description = "The access token is refused, or the response did not verify (origin, RP ID, challenge, flags)", body = crate::http::error::ErrorBody),
        (status = 404, description = "Passkeys are off on this server", body = crate::http::error::ErrorBody),
        (status = 409, description = "This passkey is registered already", body = crate::http::error::ErrorBody)))]
pub async fn add_passkey(
    state: web::Data<AppState>,
    body: web::Json<PasskeyRegistration>,
    ip: ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let PasskeyRegistration {
        ceremony,
        credential: attestation,
        name,
    } = body.into_inner();
    let attestation = credential(attestation)?;
    let passkey = state
        .account
        .add_passkey(
            &session,
            &ceremony,
            &attestation,
            name.as_deref(),
            ip.as_deref(),
        )
        .await
        .map_err(ApiError::from)?;
    Ok(no_store(PasskeyView::from(passkey)))
}

/// The caller's passkeys, oldest first.
#[utoipa::path(get, path = "/api/v1/me/passkeys", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Passkeys", body = PasskeyList),
        crate::http::error::responses::AccountTokenRefused))]
pub async fn list_passkeys(
    state: web::Data<AppState>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let passkeys = state
        .account
        .passkeys(&session)
        .await
        .map_err(ApiError::from)?;
    let passkeys = passkeys.into_iter().map(PasskeyView::from).collect();
    Ok(no_store(PasskeyList { passkeys }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRename {
    #[schema(max_length = 64)]
    pub name: String,
}

fn passkey_id(path: &str) -> Result<PasskeyId, ApiError> {
    path.parse().map_err(|_| ApiError::NotFound)
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/api/v1/me/passkeys/{id}", tag = "accounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id")),
    request_body = PasskeyRename,
    responses(
        (status = 204, description = "Renamed"),
        (status = 400, description = "Invalid name", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountTokenRefused,
        (status = 404, description = "The caller has no such passkey", body = crate::http::error::ErrorBody)))]
pub async fn rename_passkey(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<PasskeyRename>,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let id = passkey_id(&path)?;
    state
        .account
        .rename_passkey(&session, id, &body.name)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes one of the caller's passkeys: a sign-in within five minutes, or the password;
/// the user's other sessions end.
#[utoipa::path(delete, path = "/api/v1/me/passkeys/{id}", tag = "accounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id")),
    request_body(content = Option<Reauth>, content_type = "application/json"),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid body", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountTokenOrPasswordRefused,
        crate::http::error::responses::ReauthenticationRequired,
        (status = 404, description = "The caller has no such passkey", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AccountLocked))]
pub async fn delete_passkey(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
    ip: ClientIp,
    Bearer(session): AccountUser,
) -> Result<HttpResponse, ResourceError> {
    let id = passkey_id(&path)?;
    let password = Reauth::password_in(&body)?;
    state
        .account
        .delete_passkey(&session, id, password, ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

//! The SPA session API (book § Endpoints): login, cookie refresh, logout. The refresh token lives
//! only in an `HttpOnly; Secure; SameSite=Strict` cookie scoped to `/api/v1/session`, and
//! every cookie endpoint also requires an allowed `Origin` (CSRF defence on top of SameSite).

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs_core::proto::PublicKeyCredential;

use crate::domain::{ClientId, Password};
use crate::http::error::ApiError;
use crate::service::grants::{self, password::Answer as PasswordAnswer, TokenResponse};
use crate::service::signin::authenticate::Proof;
use crate::state::AppState;

pub const COOKIE: &str = "tessera_rt";
const COOKIE_PATH: &str = "/api/v1/session";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[schema(max_length = 1024)]
    pub password: String,
    /// A first-party client; defaults to `spa`.
    #[schema(max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    pub client_id: Option<String>,
}

/// Tokens for the SPA; the refresh token is in the `tessera_rt` cookie, never in the body.
#[derive(Serialize, ToSchema)]
pub struct SessionTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

redacted_debug!(SessionTokens, token_type, expires_in);

/// Refuses a cookie request whose `Origin` is not the issuer's or a listed CORS origin.
pub(super) fn require_allowed_origin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let issuer_origin = url::Url::parse(&state.settings.issuer)
        .map(|u| u.origin().ascii_serialization())
        .ok();
    let allowed = origin.is_some_and(|o| {
        Some(o) == issuer_origin.as_deref() || state.settings.cors_origins.iter().any(|a| a == o)
    });
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "origin_not_allowed",
            "this request must come from an allowed origin",
        ))
    }
}

/// The first-party client a cookie sign-in is for (`spa` when none is named): only public
/// first-party clients, since a confidential client must prove its secret at
/// `/oauth2/token` and the cookie endpoints take none.
pub(super) async fn spa_client(
    state: &AppState,
    client_id: Option<&str>,
) -> Result<crate::domain::Client, ApiError> {
    let client_id = ClientId::parse(client_id.unwrap_or("spa"))
        .map_err(|_| ApiError::Forbidden("client_not_allowed", "unknown client"))?;
    crate::service::clients::spa_client(state.stores.clients.as_ref(), &client_id)
        .await?
        .ok_or(ApiError::Forbidden(
            "client_not_allowed",
            "this client may not log users in here",
        ))
}

fn refresh_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let max_age = state.settings.refresh_absolute_ttl.as_secs() as i64;
    Cookie::build(COOKIE, value)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path(COOKIE_PATH)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

pub(super) fn respond(state: &AppState, tokens: TokenResponse) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if let Some(refresh_token) = tokens.refresh_token {
        response.cookie(refresh_cookie(state, refresh_token));
    }
    response.json(SessionTokens {
        access_token: tokens.access_token,
        token_type: tokens.token_type,
        expires_in: tokens.expires_in,
        id_token: tokens.id_token,
    })
}

/// Logs in with email and password.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = Login,
    params(("Origin" = String, Header, description = "Must be an allowed origin")),
    responses(
        (status = 200, description = "Logged in (refresh token set in the tessera_rt cookie), or `mfa_required` with an `mfa_token` for POST /api/v1/session/mfa", body = LoginResponse),
        crate::http::error::responses::InvalidInput,
        (status = 401, description = "Invalid email or password", body = crate::http::error::ErrorBody),
        (status = 403, description = "Origin not allowed, or client not first-party", body = crate::http::error::ErrorBody),
        (status = 429, description = "Rate limit or account lock: retry after Retry-After", body = crate::http::error::ErrorBody),
        crate::http::error::responses::Busy))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Login>,
) -> Result<HttpResponse, ApiError> {
    require_allowed_origin(&req, &state)?;
    let Login {
        email,
        password,
        client_id,
    } = body.into_inner();
    let client = spa_client(&state, client_id.as_deref()).await?;
    let login = grants::password::grant(
        &state.grants,
        &client,
        &email,
        Password::new(password),
        None,
        &super::extract::session_meta(&req),
    )
    .await?;
    Ok(match login {
        PasswordAnswer::Tokens(tokens) => respond(&state, tokens),
        PasswordAnswer::SecondFactor(step) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(MfaChallenge {
                mfa_required: true,
                methods: match step.passkey {
                    true => vec!["otp", "recovery_code", "passkey"],
                    false => vec!["otp", "recovery_code"],
                },
                mfa_token: step.mfa_token,
            }),
    })
}

/// The answer to a correct password when the user has MFA: continue at
/// `POST /api/v1/session/mfa` with this token (single use, 5 minutes).
#[derive(Serialize, ToSchema)]
pub struct MfaChallenge {
    pub mfa_required: bool,
    pub mfa_token: String,
    /// What the second step takes: `otp` (a TOTP code), `recovery_code`, and `passkey`
    /// when the user has one (start it at `POST /api/v1/session/passkey/options` with the
    /// `mfa_token`).
    #[schema(example = json!(["otp", "recovery_code", "passkey"]))]
    pub methods: Vec<&'static str>,
}

redacted_debug!(MfaChallenge, mfa_required);

/// Either tokens, or the MFA challenge.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginResponse {
    Tokens(SessionTokens),
    Mfa(MfaChallenge),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaLogin {
    #[schema(max_length = 128)]
    pub mfa_token: String,
    /// A 6-digit TOTP code...
    #[schema(max_length = 16)]
    pub code: Option<String>,
    /// ...or one of the user's recovery codes...
    #[schema(max_length = 32)]
    pub recovery_code: Option<String>,
    /// ...or a passkey: the ceremony of `POST /api/v1/session/passkey/options` started
    /// with this `mfa_token`...
    #[schema(max_length = 128)]
    pub ceremony: Option<String>,
    /// ...and the assertion's `PublicKeyCredential.toJSON()`.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

/// Completes a login that answered `mfa_required`.
#[utoipa::path(post, path = "/api/v1/session/mfa", tag = "session",
    request_body = MfaLogin,
    params(("Origin" = String, Header, description = "Must be an allowed origin")),
    responses(
        (status = 200, description = "Logged in; refresh token set in the tessera_rt cookie", body = SessionTokens),
        crate::http::error::responses::InvalidInput,
        (status = 401, description = "Wrong, replayed or expired code, a refused passkey, or an invalid or used mfa_token", body = crate::http::error::ErrorBody),
        crate::http::error::responses::OriginNotAllowed,
        (status = 429, description = "Too many attempts: the account is locked for Retry-After seconds", body = crate::http::error::ErrorBody)))]
pub async fn mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<MfaLogin>,
) -> Result<HttpResponse, ApiError> {
    require_allowed_origin(&req, &state)?;
    let MfaLogin {
        mfa_token,
        code,
        recovery_code,
        ceremony,
        credential,
    } = body.into_inner();
    let assertion = match credential {
        Some(credential) => Some(super::passkeys::credential::<PublicKeyCredential>(
            credential,
        )?),
        None => None,
    };
    let proof = match (
        code.is_some() || recovery_code.is_some(),
        &ceremony,
        &assertion,
    ) {
        (false, Some(ceremony), Some(credential)) => Proof::Passkey {
            ceremony,
            credential,
        },
        (true, None, None) | (false, None, None) => Proof::Code {
            otp: code.as_deref(),
            recovery_code: recovery_code.as_deref(),
        },
        _ => {
            return Err(ApiError::BadRequest {
                code: "invalid_request",
                description: "send a code, a recovery code, or a passkey's ceremony and credential"
                    .into(),
                fields: Vec::new(),
            })
        }
    };
    let ip = super::extract::peer_ip(&req);
    let tokens = grants::mfa_otp::grant(&state.grants, None, &mfa_token, proof, ip, None)
        .await
        .map_err(ApiError::from_cookie_grant)?;
    Ok(respond(&state, tokens))
}

/// Rotates the refresh cookie and returns a new access token.
#[utoipa::path(post, path = "/api/v1/session/refresh", tag = "session",
    params(("Origin" = String, Header, description = "Must be an allowed origin")),
    responses(
        (status = 200, description = "New access token; rotated cookie", body = SessionTokens),
        (status = 401, description = "No valid refresh cookie", body = crate::http::error::ErrorBody),
        crate::http::error::responses::OriginNotAllowed,
        (status = 503, description = "Retry after Retry-After", body = crate::http::error::ErrorBody)))]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_allowed_origin(&req, &state)?;
    let cookie = req
        .cookie(COOKIE)
        .ok_or(ApiError::Unauthorized { realm: "tessera" })?;
    let rotated = async {
        let client =
            grants::refresh_token::spa_family_client(&state.grants, cookie.value()).await?;
        grants::refresh_token::rotate(
            &state.grants,
            &client,
            cookie.value(),
            None,
            super::extract::peer_ip(&req),
            grants::refresh_token::Binding::Unbound,
        )
        .await
    };
    let tokens = rotated.await.map_err(ApiError::from_cookie_grant)?;
    Ok(respond(&state, tokens))
}

/// Logs out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    params(("Origin" = String, Header, description = "Must be an allowed origin")),
    responses(
        (status = 204, description = "Logged out (also when there was no session)"),
        crate::http::error::responses::OriginNotAllowed))]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_allowed_origin(&req, &state)?;
    // the presented access token (if any) stops working now, not at its expiry
    let access = super::bearer::user_claims(&req, &state).await.ok();
    let refresh_token = req.cookie(COOKIE);
    let presented = refresh_token.as_ref().map(|c| c.value());
    state.sessions.logout(access.as_ref(), presented).await?;
    let mut removal = refresh_cookie(&state, String::new());
    removal.make_removal();
    Ok(HttpResponse::NoContent().cookie(removal).finish())
}

//! `POST /oauth2/token` (RFC 6749 §3.2, RFC 6749, book § Endpoints): client authentication, then one grant.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::extract::SessionOrigin;
use super::form::Form;
use super::oauth_client::authenticate;
use crate::domain::OAuthError;
use crate::domain::Password;
use crate::service::grants::{self, password::Answer as PasswordAnswer, TokenResponse};
use crate::service::signin::authenticate::Proof;
use crate::state::AppState;

/// Token request parameters (form-encoded), for the OpenAPI description.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token`, `client_credentials`, `password` or
    /// `urn:tessera:grant-type:mfa-otp`.
    #[schema(max_length = 2048)]
    grant_type: String,
    /// `password` grant: the user's email.
    username: Option<String>,
    /// `password` grant.
    password: Option<String>,
    /// `refresh_token` grant.
    refresh_token: Option<String>,
    /// `authorization_code` grant: the code the authorization endpoint sent.
    code: Option<String>,
    /// `authorization_code` grant: the `redirect_uri` of the authorization request.
    redirect_uri: Option<String>,
    /// `authorization_code` grant: the PKCE verifier (43 to 128 characters).
    code_verifier: Option<String>,
    /// Space-separated; defaults to everything the client may request.
    scope: Option<String>,
    /// With `client_secret_post` or for public clients.
    client_id: Option<String>,
    /// With `client_secret_post`.
    client_secret: Option<String>,
    /// With `private_key_jwt`: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    client_assertion_type: Option<String>,
    /// With `private_key_jwt`: a JWT signed by one of the client's registered keys.
    client_assertion: Option<String>,
    /// `urn:tessera:grant-type:mfa-otp`: the token a password login answered with.
    mfa_token: Option<String>,
    /// `urn:tessera:grant-type:mfa-otp`: a 6-digit TOTP code...
    otp: Option<String>,
    /// ...or one of the user's recovery codes.
    recovery_code: Option<String>,
}

/// The grant that completes a password login with a second factor (RFC 6749, book § Endpoints).
pub const MFA_OTP_GRANT: &str = "urn:tessera:grant-type:mfa-otp";

/// Issues tokens.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth2",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof (RFC 9449): the tokens are bound to its key (`token_type: DPoP`, `cnf.jkt`); required for clients with `dpop_bound_access_tokens` or the `fapi2` profile, and for refreshing a public client's bound session")),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse,
            headers(("Cache-Control" = String, description = "no-store"), ("Pragma" = String, description = "no-cache"))),
        crate::http::error::responses::OAuthInvalidRequest,
        crate::http::error::responses::InvalidClient,
        (status = 403, description = "`mfa_required`, with an `mfa_token` for the mfa-otp grant", body = crate::http::error::OAuthErrorBody),
        (status = 413, description = "Body too large", body = crate::http::error::ErrorBody),
        (status = 415, description = "Not form-encoded", body = crate::http::error::OAuthErrorBody),
        (status = 429, description = "Rate limit or account lock: retry after Retry-After (RateLimit-* headers)", body = crate::http::error::OAuthErrorBody),
        (status = 503, description = "Busy; retry after Retry-After", body = crate::http::error::OAuthErrorBody)))]
pub async fn token(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
    SessionOrigin(mut origin): SessionOrigin,
) -> Result<HttpResponse, OAuthError> {
    let mut form = Form::parse(&req, &body)?;
    let grant_type = form.require("grant_type")?.to_owned();
    let client = authenticate(&req, &mut form, &state).await?;
    // RFC 9449 §5: a proof binds the tokens to its key; some clients must send one
    let proof = super::dpop::proof(&req, &state, None).await?;
    let jkt = proof.map(|p| p.jkt);
    if jkt.is_none() && client.must_use_dpop() {
        return Err(OAuthError::InvalidDpopProof(
            "this client's tokens are DPoP-bound: send a DPoP proof".into(),
        ));
    }
    origin.dpop_jkt = jkt.clone();
    let password = form.take("password").map(Password::new);
    let scope = form.get("scope");
    let response = match grant_type.as_str() {
        "password" => {
            let username = form.require("username")?.to_owned();
            let password = password
                .ok_or_else(|| OAuthError::InvalidRequest("password is required".into()))?;
            match grants::password::grant(
                &state.grants,
                &client,
                &username,
                password,
                scope,
                &origin,
            )
            .await?
            {
                PasswordAnswer::Tokens(tokens) => tokens,
                // RFC 6749 §5.2 leaves room for extension errors: this one carries the
                // token the mfa-otp grant takes
                PasswordAnswer::SecondFactor(step) => {
                    return Err(OAuthError::MfaRequired(step.mfa_token))
                }
            }
        }
        "client_credentials" => {
            grants::client_credentials::grant(&state.issuer, &client, scope, jkt.as_deref())?
        }
        "authorization_code" => {
            let code = form.require("code")?.to_owned();
            grants::authorization_code::grant(
                &state.grants,
                &client,
                &code,
                form.get("redirect_uri"),
                form.get("code_verifier"),
                &origin,
            )
            .await?
        }
        "refresh_token" => {
            let presented = form.require("refresh_token")?.to_owned();
            grants::refresh_token::rotate(
                &state.grants,
                &client,
                &presented,
                scope,
                origin.ip.clone(),
                grants::refresh_token::Binding::Proof(jkt.as_deref()),
            )
            .await?
        }
        MFA_OTP_GRANT => {
            if !client.first_party || !client.allows(crate::domain::GrantType::Password) {
                return Err(OAuthError::UnauthorizedClient(
                    "this client may not use the password grant",
                ));
            }
            let mfa_token = form.require("mfa_token")?.to_owned();
            grants::mfa_otp::grant(
                &state.grants,
                Some(&client),
                &mfa_token,
                Proof::Code {
                    otp: form.get("otp"),
                    recovery_code: form.get("recovery_code"),
                },
                origin.ip.clone(),
                jkt.clone(),
            )
            .await?
        }
        _ => return Err(OAuthError::UnsupportedGrantType),
    };
    tracing::info!(client_id = %client.id, grant_type, dpop = jkt.is_some(), "tokens issued");
    let mut ok = HttpResponse::Ok();
    ok.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if let Some(nonce) = state.dpop.nonce() {
        ok.insert_header((super::error::DPOP_NONCE, nonce));
    }
    Ok(ok.json(response))
}

//! The hosted forms' posts: sign-in (password or passkey), the second factor, consent. Each reads the form and
//! the cookies, hands them to its `service::signin` step and renders what comes back.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::pages::BrowserCookie;
use super::render_step;
use crate::domain::Password;
use crate::http::extract::session_meta;
use crate::service::signin::authenticate::Proof;
use crate::service::signin::Posted;
use crate::state::AppState;
use webauthn_rs_core::proto::PublicKeyCredential;

/// The sign-in form, for the OpenAPI description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SignInRequest {
    /// The page's sealed flow.
    flow: String,
    /// The page's CSRF token (tied to the browser's `tessera_csrf` cookie).
    csrf_token: String,
    email: String,
    password: String,
}

/// The second-factor form, for the OpenAPI description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MfaRequest {
    flow: String,
    csrf_token: String,
    mfa_token: String,
    /// A 6-digit TOTP code...
    code: Option<String>,
    /// ...or a recovery code...
    recovery_code: Option<String>,
    /// ...or a passkey: the ceremony of `POST /api/v1/session/passkey/options` started
    /// with the `mfa_token`...
    ceremony: Option<String>,
    /// ...and `PublicKeyCredential.toJSON()` of the assertion, as JSON text.
    credential: Option<String>,
}

/// The consent form, for the OpenAPI description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ConsentRequest {
    flow: String,
    csrf_token: String,
    /// `allow` or `deny`.
    decision: String,
}

/// The fields every hosted form carries.
#[derive(Deserialize)]
pub struct Carried {
    flow: Option<String>,
    csrf_token: Option<String>,
}

/// What a posted form brings back: its hidden fields and the browser's CSRF cookie.
fn posted<'a>(carried: &'a Carried, csrf_cookie: &'a Option<String>) -> Posted<'a> {
    Posted {
        flow: carried.flow.as_deref(),
        csrf_token: carried.csrf_token.as_deref(),
        csrf_cookie: csrf_cookie.as_deref(),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(flatten)]
    carried: Carried,
    email: Option<String>,
    password: Option<String>,
}

/// The sign-in form's post.
#[utoipa::path(post, path = "/oauth2/authorize/signin", tag = "oauth2",
    request_body(content = SignInRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The next page (second factor, consent) or the form_post answer", content_type = "text/html"),
        (status = 303, description = "Back to the client with a code"),
        (status = 400, description = "The sign-in page again with a message", content_type = "text/html"),
        (status = 403, description = "Missing or foreign CSRF token", content_type = "text/html")))]
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let csrf = BrowserCookie::Csrf.read(&req, &state);
    let outcome = state
        .signin
        .password(
            &posted(&form.carried, &csrf),
            form.email.as_deref().unwrap_or_default(),
            Password::new(form.password.unwrap_or_default()),
            &session_meta(&req),
        )
        .await;
    render_step(&state, &req, outcome).await
}

#[derive(Deserialize)]
pub struct ResendForm {
    #[serde(flatten)]
    carried: Carried,
    email: Option<String>,
}

/// The sign-in page's "send the link again" form, for the OpenAPI description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ResendRequest {
    flow: String,
    csrf_token: String,
    email: String,
}

/// The sign-in page's "send the link again" (book § Email), offered when a sign-in was
/// refused because the address is not verified yet.
#[utoipa::path(post, path = "/oauth2/authorize/resend", tag = "oauth2",
    request_body(content = ResendRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The sign-in page again, saying a link is on its way if the account waits for one", content_type = "text/html"),
        (status = 400, description = "Not an email address: the sign-in page again", content_type = "text/html"),
        (status = 403, description = "Missing or foreign CSRF token", content_type = "text/html"),
        (status = 429, description = "Too many links asked for: the sign-in page with Retry-After", content_type = "text/html")))]
pub async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ResendForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let csrf = BrowserCookie::Csrf.read(&req, &state);
    let outcome = state
        .signin
        .resend_verification(
            &posted(&form.carried, &csrf),
            form.email.as_deref().unwrap_or_default(),
            &session_meta(&req),
        )
        .await;
    render_step(&state, &req, outcome).await
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(flatten)]
    carried: Carried,
    ceremony: Option<String>,
    /// The assertion's `toJSON()`, as JSON text.
    credential: Option<String>,
}

/// The form the sign-in page's passkey script posts (book § Passkeys).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PasskeyRequest {
    flow: String,
    csrf_token: String,
    /// The ceremony of `POST /api/v1/session/passkey/options`.
    ceremony: String,
    /// `PublicKeyCredential.toJSON()` of the assertion, as JSON text.
    credential: String,
}

/// The sign-in page's passkey post: the ceremony and the browser's assertion.
#[utoipa::path(post, path = "/oauth2/authorize/passkey", tag = "oauth2",
    request_body(content = PasskeyRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The next page (consent) or the form_post answer", content_type = "text/html"),
        (status = 303, description = "Back to the client with a code"),
        (status = 400, description = "The sign-in page again with a message", content_type = "text/html"),
        (status = 403, description = "Missing or foreign CSRF token", content_type = "text/html"),
        (status = 429, description = "Too many attempts: the sign-in page with Retry-After", content_type = "text/html")))]
pub async fn passkey(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<PasskeyForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let csrf = BrowserCookie::Csrf.read(&req, &state);
    let credential = read_assertion(form.credential.as_deref());
    let outcome = state
        .signin
        .passkey(
            &posted(&form.carried, &csrf),
            form.ceremony.as_deref().unwrap_or_default(),
            credential.as_ref(),
            &session_meta(&req),
        )
        .await;
    render_step(&state, &req, outcome).await
}

/// The assertion a passkey form carries, as JSON text: a malformed one is a refused one
/// (the page says so).
fn read_assertion(text: Option<&str>) -> Option<PublicKeyCredential> {
    text.and_then(|text| serde_json::from_str(text).ok())
}

#[derive(Deserialize)]
pub struct MfaForm {
    #[serde(flatten)]
    carried: Carried,
    mfa_token: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
    /// A passkey's answer (the page's script fills these): the ceremony and the
    /// assertion's `toJSON()` as JSON text.
    ceremony: Option<String>,
    credential: Option<String>,
}

/// The second-factor form's post.
#[utoipa::path(post, path = "/oauth2/authorize/mfa", tag = "oauth2",
    request_body(content = MfaRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The next page or the form_post answer", content_type = "text/html"),
        (status = 303, description = "Back to the client with a code"),
        (status = 400, description = "The page again with a message", content_type = "text/html"),
        (status = 403, description = "Missing or foreign CSRF token", content_type = "text/html")))]
pub async fn second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<MfaForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let csrf = BrowserCookie::Csrf.read(&req, &state);
    let assertion = read_assertion(form.credential.as_deref());
    let proof = match form.ceremony.as_deref().filter(|c| !c.is_empty()) {
        Some(ceremony) => assertion.as_ref().map(|credential| Proof::Passkey {
            ceremony,
            credential,
        }),
        None => Some(Proof::Code {
            otp: form.code.as_deref().filter(|c| !c.is_empty()),
            recovery_code: form.recovery_code.as_deref().filter(|c| !c.is_empty()),
        }),
    };
    let outcome = state
        .signin
        .second_factor(
            &posted(&form.carried, &csrf),
            form.mfa_token.as_deref().unwrap_or_default(),
            proof,
            &session_meta(&req),
        )
        .await;
    render_step(&state, &req, outcome).await
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(flatten)]
    carried: Carried,
    decision: Option<String>,
}

/// The consent form's post.
#[utoipa::path(post, path = "/oauth2/authorize/consent", tag = "oauth2",
    request_body(content = ConsentRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The sign-in page (the session ended) or the form_post answer", content_type = "text/html"),
        (status = 303, description = "Back to the client with a code, or `access_denied`"),
        (status = 403, description = "Missing or foreign CSRF token", content_type = "text/html")))]
pub async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ConsentForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let csrf = BrowserCookie::Csrf.read(&req, &state);
    let sso = BrowserCookie::Sso.read(&req, &state);
    let allow = form.decision.as_deref() == Some("allow");
    let outcome = state
        .signin
        .consent(&posted(&form.carried, &csrf), sso.as_deref(), allow)
        .await;
    render_step(&state, &req, outcome).await
}

//! `GET|POST /oauth2/authorize` and the hosted pages behind it (SPEC S11): sign-in, the
//! second factor, consent, and the error page. Server-rendered (askama, checked at compile
//! time), no JavaScript needed, one stylesheet served by tessera under its content hash,
//! a CSP without `unsafe-inline` whose `form-action` names the client's origin (Chromium
//! applies it to the redirect that follows a form post), a CSRF token on every form tied
//! to a cookie of the browser's own.

use std::sync::LazyLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::extract::session_meta;
use crate::domain::{OAuthError, Password};
use crate::service::authorize::{
    self as flow, Next, Params, Refusal, Request, ResponseMode, Return,
};
use crate::state::AppState;
use crate::store::{AuditEvent, SsoSession};

pub const SSO_COOKIE: &str = "tessera_sso";
pub const CSRF_COOKIE: &str = "tessera_csrf";

const STYLESHEET: &str = include_str!("../../static/tessera.css");

/// `/assets/tessera-<hash>.css`: a new stylesheet is a new URL, so it can be cached forever.
pub static STYLESHEET_PATH: LazyLock<String> = LazyLock::new(|| {
    let hash = hex::encode(&Sha256::digest(STYLESHEET.as_bytes())[..8]);
    format!("/assets/tessera-{hash}.css")
});

/// The script a `form_post` answer runs to submit itself (allowed by its hash).
const AUTO_SUBMIT: &str = "document.getElementById('answer').submit();";
static AUTO_SUBMIT_HASH: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine;
    let digest = Sha256::digest(AUTO_SUBMIT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
});

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    stylesheet: &'a str,
    client_name: &'a str,
    flow: &'a str,
    csrf_token: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage<'a> {
    stylesheet: &'a str,
    flow: &'a str,
    csrf_token: &'a str,
    mfa_token: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    stylesheet: &'a str,
    client_name: &'a str,
    email: &'a str,
    scopes: Vec<String>,
    flow: &'a str,
    csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    stylesheet: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    stylesheet: &'a str,
    action: &'a str,
    fields: Vec<(&'static str, String)>,
    script: &'a str,
}

/// What a scope lets the client do, as the consent page says it.
fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are".into(),
        "email" => "See your email address".into(),
        "profile" => "See your name".into(),
        other => format!("Use “{other}”"),
    }
}

/// A page, with the policy that lets it load its stylesheet and post its forms (to
/// tessera, and on to `target`, the client's origin the answer redirects to).
fn page(status: StatusCode, html: String, target: Option<&str>, script: bool) -> HttpResponse {
    let mut form_action = "'self'".to_owned();
    if let Some(target) = target {
        form_action.push(' ');
        form_action.push_str(target);
    }
    let script_src = if script {
        format!("; script-src {}", *AUTO_SUBMIT_HASH)
    } else {
        String::new()
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'{script_src}"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(html)
}

fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page failed to render");
        "<!doctype html><title>Error</title><p>Something went wrong.</p>".into()
    })
}

/// The error page: the request cannot go back to any client.
fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let html = render(&ErrorPage {
        stylesheet: &STYLESHEET_PATH,
        message,
    });
    page(status, html, None, false)
}

fn cookie<'c>(
    state: &AppState,
    name: &'c str,
    value: String,
    max_age: time::Duration,
) -> Cookie<'c> {
    Cookie::build(name, value)
        .path("/oauth2")
        .http_only(true)
        .secure(state.settings.is_https())
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

/// The browser's CSRF cookie value, and whether it is new (to be set on the response).
fn csrf_cookie(req: &HttpRequest) -> (String, bool) {
    match req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()) {
        Some(value) if (20..=64).contains(&value.len()) => (value, false),
        _ => (flow::new_csrf_cookie(), true),
    }
}

/// Renders a form page with the browser's CSRF token (setting its cookie when new).
fn form_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    target: Option<&str>,
    build: impl FnOnce(&str) -> String,
) -> HttpResponse {
    let (csrf, new) = csrf_cookie(req);
    let html = build(&flow::csrf_token(state, &csrf));
    let mut response = page(status, html, target, false);
    if new {
        let _ = response.add_cookie(&cookie(state, CSRF_COOKIE, csrf, time::Duration::hours(12)));
    }
    response
}

/// Sends the answer (a code or an error) back to the client the way it asked.
fn answer(state: &AppState, back: &Return, result: Result<&str, (&str, &str)>) -> HttpResponse {
    let pairs = flow::answer(state, back, result);
    match back.mode {
        ResponseMode::Query => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                flow::redirect_url(&back.redirect_uri, &pairs),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        ResponseMode::FormPost => {
            let html = render(&FormPostPage {
                stylesheet: &STYLESHEET_PATH,
                action: &back.redirect_uri,
                fields: pairs,
                script: AUTO_SUBMIT,
            });
            let target = flow::form_target(&back.redirect_uri);
            page(StatusCode::OK, html, target.as_deref(), true)
        }
    }
}

fn refused(state: &AppState, refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::Page(message) => error_page(StatusCode::BAD_REQUEST, &message),
        Refusal::Redirect {
            back,
            error,
            description,
        } => answer(state, &back, Err((error, &description))),
        Refusal::Store(e) => {
            tracing::warn!(error = %e, "authorization: a store failed");
            let mut response = error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is busy. Try again in a moment.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            response
        }
    }
}

fn sign_in_page(
    state: &AppState,
    req: &HttpRequest,
    request: &Request,
    email: &str,
    error: Option<&str>,
) -> HttpResponse {
    let sealed = flow::seal_flow(state, &request.params);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let target = flow::form_target(&request.back.redirect_uri);
    form_page(state, req, status, target.as_deref(), |csrf_token| {
        render(&SignInPage {
            stylesheet: &STYLESHEET_PATH,
            client_name: &request.client.name,
            flow: &sealed,
            csrf_token,
            email,
            error,
        })
    })
}

/// The step after a valid request, given the browser's session.
async fn proceed(
    state: &AppState,
    req: &HttpRequest,
    request: &Request,
    session: Option<(SsoSession, crate::domain::User)>,
    just_signed_in: bool,
) -> HttpResponse {
    match flow::next_step(state, request, session.as_ref(), just_signed_in).await {
        Err(refusal) => refused(state, refusal),
        Ok(Next::SignIn) => {
            let hint = request.params.login_hint.clone().unwrap_or_default();
            sign_in_page(state, req, request, &hint, None)
        }
        Ok(Next::Consent) => {
            let Some((_, user)) = &session else {
                return sign_in_page(state, req, request, "", None);
            };
            let sealed = flow::seal_flow(state, &request.params);
            let target = flow::form_target(&request.back.redirect_uri);
            form_page(
                state,
                req,
                StatusCode::OK,
                target.as_deref(),
                |csrf_token| {
                    render(&ConsentPage {
                        stylesheet: &STYLESHEET_PATH,
                        client_name: &request.client.name,
                        email: user.email.as_str(),
                        scopes: {
                            // who you are first, then what else
                            let mut scopes: Vec<&str> = request.scope.iter().collect();
                            scopes.sort_by_key(|s| *s != "openid");
                            scopes.into_iter().map(describe_scope).collect()
                        },
                        flow: &sealed,
                        csrf_token,
                    })
                },
            )
        }
        Ok(Next::Code) => {
            let Some((sso, _)) = &session else {
                return sign_in_page(state, req, request, "", None);
            };
            match flow::issue_code(state, request, sso).await {
                Ok(code) => answer(state, &request.back, Ok(&code)),
                Err(e) => refused(state, Refusal::Store(e)),
            }
        }
    }
}

async fn start(state: &AppState, req: &HttpRequest, params: Params) -> HttpResponse {
    let request = match flow::validate(state, params).await {
        Ok(request) => request,
        Err(refusal) => return refused(state, refusal),
    };
    let cookie = req.cookie(SSO_COOKIE).map(|c| c.value().to_owned());
    let session = match flow::sso_session(state, cookie.as_deref()).await {
        Ok(session) => session,
        Err(e) => return refused(state, Refusal::Store(e)),
    };
    proceed(state, req, &request, session, false).await
}

/// Starts an authorization (SPEC S11).
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oauth2",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query),
        ("redirect_uri" = Option<String>, Query, description = "Exactly as registered (loopback IP literals: any port); may be omitted when the client registered only one"),
        ("scope" = Option<String>, Query),
        ("state" = Option<String>, Query),
        ("nonce" = Option<String>, Query),
        ("code_challenge" = String, Query, description = "PKCE, required: base64url SHA-256 of the verifier"),
        ("code_challenge_method" = String, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`none`, or `login` and/or `consent`"),
        ("max_age" = Option<i64>, Query),
        ("login_hint" = Option<String>, Query),
        ("response_mode" = Option<String>, Query, description = "`query` (default) or `form_post`")),
    responses(
        (status = 200, description = "A hosted page (sign-in, consent) or the form_post answer", content_type = "text/html"),
        (status = 303, description = "Back to the client with `code` or `error`, `state` and `iss`"),
        (status = 400, description = "Unknown client or redirect URI: an error page, never a redirect", content_type = "text/html"),
        (status = 503, description = "Busy; retry after Retry-After", content_type = "text/html")))]
pub async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Params>,
) -> HttpResponse {
    start(&state, &req, query.into_inner()).await
}

/// `POST /oauth2/authorize`: the same parameters, form-encoded.
#[utoipa::path(post, path = "/oauth2/authorize", tag = "oauth2",
    request_body(content = AuthorizeRequest, content_type = "application/x-www-form-urlencoded",
        description = "The parameters of `GET /oauth2/authorize`"),
    responses(
        (status = 200, description = "A hosted page or the form_post answer", content_type = "text/html"),
        (status = 303, description = "Back to the client with `code` or `error`, `state` and `iss`"),
        (status = 400, description = "Unknown client or redirect URI: an error page", content_type = "text/html"),
        (status = 503, description = "Busy; retry after Retry-After", content_type = "text/html")))]
pub async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<Params>,
) -> HttpResponse {
    start(&state, &req, form.into_inner()).await
}

/// `POST /oauth2/authorize` parameters, for the OpenAPI description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AuthorizeRequest {
    /// `code`.
    response_type: String,
    client_id: String,
    redirect_uri: Option<String>,
    scope: Option<String>,
    #[schema(max_length = 1024)]
    state: Option<String>,
    #[schema(max_length = 512)]
    nonce: Option<String>,
    code_challenge: String,
    /// `S256`.
    code_challenge_method: String,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
    response_mode: Option<String>,
}

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
    /// ...or a recovery code.
    recovery_code: Option<String>,
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

/// The request a posted form continues, after its CSRF token and flow are checked.
async fn resume(
    state: &AppState,
    req: &HttpRequest,
    carried: &Carried,
) -> Result<Request, HttpResponse> {
    let cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned());
    if !flow::csrf_matches(state, cookie.as_deref(), carried.csrf_token.as_deref()) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "This form was not sent from the page tessera showed this browser, or it has expired. Go back to the application and start again.",
        ));
    }
    let params = carried
        .flow
        .as_deref()
        .and_then(|f| flow::open_flow(state, f))
        .ok_or_else(|| {
            error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in has expired. Go back to the application and start again.",
            )
        })?;
    flow::validate(state, params)
        .await
        .map_err(|refusal| refused(state, refusal))
}

/// Signs the browser in: the SSO cookie, the audit event, then the next step.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
    request: &Request,
    user: crate::domain::User,
    amr: Vec<String>,
) -> HttpResponse {
    let (sso, value) = match flow::start_sso(state, &user, amr.clone()).await {
        Ok(started) => started,
        Err(e) => return refused(state, Refusal::Store(e)),
    };
    let meta = session_meta(req);
    crate::metrics::token_issued("hosted_sign_in");
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(request.client.id.as_str())
        .ip(meta.ip)
        .detail(json!({ "amr": amr, "via": "authorize" }));
    crate::service::audit::record(state, event).await;
    let mut response = proceed(state, req, request, Some((sso, user)), true).await;
    let max_age = time::Duration::seconds(state.settings.sso_ttl.as_secs() as i64);
    let _ = response.add_cookie(&cookie(state, SSO_COOKIE, value, max_age));
    response
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(flatten)]
    carried: Carried,
    email: Option<String>,
    password: Option<String>,
}

/// The sign-in form's message for a refusal: never which of email or password was wrong.
fn sign_in_message(error: &OAuthError) -> String {
    match error {
        OAuthError::TooManyRequests(t) => {
            format!("Too many attempts. Try again in {} seconds.", t.retry_after)
        }
        OAuthError::TemporarilyUnavailable | OAuthError::Server(_) => {
            "The service is busy. Try again in a moment.".into()
        }
        _ => "The email or password is not right.".into(),
    }
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
    let request = match resume(&state, &req, &form.carried).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let email = form.email.unwrap_or_default();
    let password = Password::new(form.password.unwrap_or_default());
    let meta = session_meta(&req);
    let result = crate::service::grants::password::authenticate(
        &state,
        &request.client,
        &email,
        password,
        &request.scope,
        &meta,
    )
    .await;
    match result {
        Ok(user) => signed_in(&state, &req, &request, user, vec!["pwd".into()]).await,
        Err(OAuthError::MfaRequired(mfa_token)) => {
            mfa_page(&state, &req, &request, &mfa_token, None)
        }
        Err(error) => {
            let message = sign_in_message(&error);
            let mut response = sign_in_page(&state, &req, &request, &email, Some(&message));
            if let OAuthError::TooManyRequests(t) = &error {
                *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                if let Ok(value) = header::HeaderValue::from_str(&t.retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
    }
}

fn mfa_page(
    state: &AppState,
    req: &HttpRequest,
    request: &Request,
    mfa_token: &str,
    error: Option<&str>,
) -> HttpResponse {
    let sealed = flow::seal_flow(state, &request.params);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let target = flow::form_target(&request.back.redirect_uri);
    form_page(state, req, status, target.as_deref(), |csrf_token| {
        render(&MfaPage {
            stylesheet: &STYLESHEET_PATH,
            flow: &sealed,
            csrf_token,
            mfa_token,
            error,
        })
    })
}

#[derive(Deserialize)]
pub struct MfaForm {
    #[serde(flatten)]
    carried: Carried,
    mfa_token: Option<String>,
    code: Option<String>,
    recovery_code: Option<String>,
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
    let request = match resume(&state, &req, &form.carried).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let mfa_token = form.mfa_token.unwrap_or_default();
    let meta = session_meta(&req);
    let code = form.code.as_deref().filter(|c| !c.is_empty());
    let recovery = form.recovery_code.as_deref().filter(|c| !c.is_empty());
    let result = crate::service::grants::mfa_otp::second_factor(
        &state,
        Some(request.client.id.as_str()),
        &mfa_token,
        code,
        recovery,
        meta.ip.clone(),
    )
    .await;
    match result {
        Ok((user, _)) => {
            signed_in(
                &state,
                &req,
                &request,
                user,
                vec!["pwd".into(), "otp".into()],
            )
            .await
        }
        Err(OAuthError::InvalidGrant("the code is not valid")) => mfa_page(
            &state,
            &req,
            &request,
            &mfa_token,
            Some("That code is not right. Try the current one."),
        ),
        Err(error @ OAuthError::TooManyRequests(_)) => {
            let message = sign_in_message(&error);
            mfa_page(&state, &req, &request, &mfa_token, Some(&message))
        }
        Err(_) => sign_in_page(
            &state,
            &req,
            &request,
            "",
            Some("This sign-in has expired. Sign in again."),
        ),
    }
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
    let request = match resume(&state, &req, &form.carried).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let cookie = req.cookie(SSO_COOKIE).map(|c| c.value().to_owned());
    let session = match flow::sso_session(&state, cookie.as_deref()).await {
        Ok(Some(session)) => session,
        Ok(None) => return sign_in_page(&state, &req, &request, "", None),
        Err(e) => return refused(&state, Refusal::Store(e)),
    };
    if form.decision.as_deref() != Some("allow") {
        return answer(
            &state,
            &request.back,
            Err(("access_denied", "the user did not allow this client")),
        );
    }
    let scopes: Vec<String> = request.scope.iter().map(str::to_owned).collect();
    let now = state.clock.now();
    let (sso, user) = &session;
    if let Err(e) = state
        .stores
        .consents
        .grant_consent(user.id, request.client.id.as_str(), &scopes, now)
        .await
    {
        return refused(&state, Refusal::Store(e));
    }
    let event = AuditEvent::new("consent_granted", "ok")
        .user(user.id)
        .client(request.client.id.as_str())
        .detail(json!({ "scopes": scopes }));
    crate::service::audit::record(&state, event).await;
    match flow::issue_code(&state, &request, sso).await {
        Ok(code) => answer(&state, &request.back, Ok(&code)),
        Err(e) => refused(&state, Refusal::Store(e)),
    }
}

/// The hosted pages' stylesheet.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(STYLESHEET)
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage<'a> {
    stylesheet: &'a str,
}

/// `GET|POST /oauth2/logout` parameters, for the OpenAPI description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct LogoutRequest {
    /// An ID token this issuer signed for the client (expired ones are accepted).
    id_token_hint: Option<String>,
    /// One of the client's registered `post_logout_redirect_uris`, exactly.
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// Names the client when there is no `id_token_hint`.
    client_id: Option<String>,
}

async fn sign_out(
    state: &AppState,
    req: &HttpRequest,
    params: crate::service::logout::Params,
) -> HttpResponse {
    use crate::service::logout::{logout, Outcome, Refusal as LogoutRefusal};
    let sso = req.cookie(SSO_COOKIE).map(|c| c.value().to_owned());
    let ip = session_meta(req).ip;
    let mut response = match logout(state, params, sso.as_deref(), ip).await {
        Ok(Outcome::Redirect(to)) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, to))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Ok(Outcome::SignedOut) => page(
            StatusCode::OK,
            render(&SignedOutPage {
                stylesheet: &STYLESHEET_PATH,
            }),
            None,
            false,
        ),
        Err(LogoutRefusal::Page(message)) => return error_page(StatusCode::BAD_REQUEST, message),
        Err(LogoutRefusal::Store(e)) => return refused(state, Refusal::Store(e)),
    };
    let _ = response.add_cookie(&cookie(
        state,
        SSO_COOKIE,
        String::new(),
        time::Duration::ZERO,
    ));
    response
}

/// RP-initiated logout (`end_session_endpoint`).
#[utoipa::path(get, path = "/oauth2/logout", tag = "oauth2",
    params(
        ("id_token_hint" = Option<String>, Query),
        ("post_logout_redirect_uri" = Option<String>, Query),
        ("state" = Option<String>, Query),
        ("client_id" = Option<String>, Query)),
    responses(
        (status = 200, description = "Signed out: tessera's page", content_type = "text/html"),
        (status = 303, description = "Signed out: back to the registered post_logout_redirect_uri with state"),
        (status = 400, description = "An ID token or redirect URI that is not this client's: an error page, nothing ended", content_type = "text/html")))]
pub async fn logout_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<crate::service::logout::Params>,
) -> HttpResponse {
    sign_out(&state, &req, query.into_inner()).await
}

/// RP-initiated logout, form-encoded.
#[utoipa::path(post, path = "/oauth2/logout", tag = "oauth2",
    request_body(content = LogoutRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed out: tessera's page", content_type = "text/html"),
        (status = 303, description = "Back to the registered post_logout_redirect_uri with state"),
        (status = 400, description = "Not this client's: an error page, nothing ended", content_type = "text/html")))]
pub async fn logout_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<crate::service::logout::Params>,
) -> HttpResponse {
    sign_out(&state, &req, form.into_inner()).await
}

//! The hosted forms' posts: sign-in, the second factor, consent.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::pages::*;
use super::proceed;
use crate::domain::{OAuthError, Password};
use crate::http::extract::session_meta;
use crate::service::authorize::{self as flow, Refusal, Request};
use crate::state::AppState;
use crate::store::AuditEvent;

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

/// The request a posted form continues, after its CSRF token and flow are checked, and the
/// session its page was shown for.
async fn resume_bound(
    state: &AppState,
    req: &HttpRequest,
    carried: &Carried,
) -> Result<(Request, Option<String>), HttpResponse> {
    let cookie = BrowserCookie::Csrf.read(req, state);
    if !flow::csrf_matches(state, cookie.as_deref(), carried.csrf_token.as_deref()) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "This form was not sent from the page tessera showed this browser, or it has expired. Go back to the application and start again.",
        ));
    }
    let opened = carried
        .flow
        .as_deref()
        .and_then(|f| flow::open_flow(state, f))
        .ok_or_else(|| {
            error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in has expired. Go back to the application and start again.",
            )
        })?;
    let request = flow::validate(state, opened.params)
        .await
        .map_err(|refusal| refused(state, refusal))?;
    Ok((request, opened.sso))
}

/// The request a posted sign-in or second-factor form continues.
async fn resume(
    state: &AppState,
    req: &HttpRequest,
    carried: &Carried,
) -> Result<Request, HttpResponse> {
    resume_bound(state, req, carried)
        .await
        .map(|(request, _)| request)
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
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(request.client.id.as_str())
        .ip(meta.ip)
        .detail(json!({ "amr": amr, "via": "authorize" }));
    crate::service::audit::record(state, event).await;
    let mut response = proceed(state, req, request, Some((sso, user)), true).await;
    let max_age = time::Duration::seconds(state.settings.sso_ttl.as_secs() as i64);
    let _ = response.add_cookie(&cookie(state, BrowserCookie::Sso, value, max_age));
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
        Err(OAuthError::InvalidGrant(crate::service::grants::mfa_otp::WRONG_CODE)) => mfa_page(
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
    let (request, bound) = match resume_bound(&state, &req, &form.carried).await {
        Ok(resumed) => resumed,
        Err(response) => return response,
    };
    let cookie = BrowserCookie::Sso.read(&req, &state);
    let session = match flow::sso_session(&state, cookie.as_deref()).await {
        Ok(Some(session)) => session,
        Ok(None) => return sign_in_page(&state, &req, &request, "", None),
        Err(e) => return refused(&state, Refusal::Store(e)),
    };
    // the post must come with the session the page was shown for (which met prompt=login
    // and max_age then), and that session must still meet max_age now (OIDC Core §3.1.2.1)
    let age = (state.clock.now() - session.0.auth_time).whole_seconds();
    let stale = request.max_age.is_some_and(|max| age > max);
    if bound.as_deref() != Some(session.0.id.as_str()) || stale {
        return sign_in_page(&state, &req, &request, session.1.email.as_str(), None);
    }
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

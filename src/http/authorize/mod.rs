//! `GET|POST /oauth2/authorize` and the hosted pages behind it (book § Sign-in with the authorization-code flow): sign-in, the
//! second factor, consent, and the error page. Server-rendered (askama, checked at compile
//! time), no JavaScript needed (the sign-in page's passkey button and autofill use one
//! same-origin script; without it the password form works), one stylesheet served by
//! tessera under its content hash,
//! a CSP without `unsafe-inline` whose `form-action` names the client's origin (Chromium
//! applies it to the redirect that follows a form post), a CSRF token on every form tied
//! to a cookie of the browser's own.

mod email_links;
mod forms;
mod logout;
mod pages;
mod refusals;
mod upstream;

pub use email_links::*;
pub use forms::*;
pub use logout::*;
use pages::*;
pub use pages::{
    icon, passkey_script, stylesheet, BrowserCookie, ICON_PATH, PASSKEY_SCRIPT_PATH,
    STYLESHEET_PATH,
};
use refusals::refused;

pub use upstream::*;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::service::authorize::Params;
use crate::service::signin::{Answer, Notice, Outcome, Step};
use crate::state::AppState;

/// Renders what a sign-in step decided, setting the sign-in cookie when it signed the
/// browser in.
async fn render_step(state: &AppState, req: &HttpRequest, outcome: Outcome) -> HttpResponse {
    let buttons = match outcome.step {
        Step::SignIn { .. } => state.upstreams.buttons().await,
        _ => Vec::new(),
    };
    let mut response = match outcome.step {
        Step::SignIn {
            request,
            email,
            notice,
        } => {
            let passkeys = state.authenticator.passkeys_enabled();
            notice_page(
                state,
                req,
                (&request, Scripts::own_when(passkeys)),
                notice,
                |flow, csrf_token, error| {
                    render(&SignInPage {
                        stylesheet: &STYLESHEET_PATH,
                        form: Posted { flow, csrf_token },
                        client_name: &request.client.name,
                        email: &email,
                        error,
                        resend: notice == Some(Notice::EmailNotVerified),
                        news: notice == Some(Notice::VerificationSent),
                        passkey_script: passkeys.then_some(PASSKEY_SCRIPT_PATH.as_str()),
                        upstreams: buttons
                            .iter()
                            .map(|b| (start_link(&b.id, flow), b.name.clone()))
                            .collect(),
                    })
                },
            )
        }
        Step::SecondFactor {
            request,
            mfa_token,
            passkey,
            notice,
        } => notice_page(
            state,
            req,
            (&request, Scripts::own_when(passkey)),
            notice,
            |flow, csrf_token, error| {
                render(&MfaPage {
                    stylesheet: &STYLESHEET_PATH,
                    form: Posted { flow, csrf_token },
                    mfa_token: &mfa_token,
                    error,
                    passkey_script: passkey.then_some(PASSKEY_SCRIPT_PATH.as_str()),
                })
            },
        ),
        Step::Consent {
            request,
            sso_id,
            email,
        } => form_page(
            state,
            req,
            &request,
            false,
            Some(&sso_id),
            Scripts::None,
            |flow, csrf_token| {
                render(&ConsentPage {
                    stylesheet: &STYLESHEET_PATH,
                    form: Posted { flow, csrf_token },
                    client_name: &request.client.name,
                    email: &email,
                    scopes: {
                        // who you are first, then what else
                        let mut scopes: Vec<&str> = request.scope.iter().collect();
                        scopes.sort_by_key(|s| *s != "openid");
                        scopes.into_iter().map(describe_scope).collect()
                    },
                })
            },
        ),
        Step::Redirect { back, answer: done } => match &done {
            Answer::Code(code) => answer(state, &back, Ok(code)),
            Answer::Error { error, description } => answer(state, &back, Err((error, description))),
        },
        Step::Upstream { url } => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Step::Told { title, message } => told(title, &message),
        Step::Refuse(refusal) => refused(state, refusal),
    };
    if let Some(value) = outcome.signed_in {
        let max_age = time::Duration::seconds(state.settings.sso_ttl.as_secs() as i64);
        let _ = response.add_cookie(&cookie(state, BrowserCookie::Sso, value, max_age));
    }
    response
}

/// A form shown again with `notice` (400), or a throttled one (429 with the limit's
/// headers), or shown the first time (200); `build` gets the sealed flow, the CSRF token
/// and the notice's text.
fn notice_page(
    state: &AppState,
    req: &HttpRequest,
    (request, scripts): (&crate::service::authorize::Request, Scripts),
    notice: Option<Notice>,
    build: impl FnOnce(&str, &str, Option<&str>) -> String,
) -> HttpResponse {
    let error = notice.map(message);
    // "a new link is on its way" is news, not a refusal
    let refused = error.is_some() && notice != Some(Notice::VerificationSent);
    let mut response = form_page(state, req, request, refused, None, scripts, |flow, csrf| {
        build(flow, csrf, error.as_deref())
    });
    if let Some(Notice::Throttled(t)) = notice {
        crate::http::error::throttle_page(&mut response, &t);
    }
    response
}

/// The text a form shows for `notice`: never which of email or password was wrong.
fn message(notice: Notice) -> String {
    match notice {
        Notice::WrongCredentials => "The email or password is not right.".into(),
        Notice::WrongCode => "That code is not right. Try the current one.".into(),
        Notice::Throttled(t) => {
            format!("Too many attempts. Try again in {} seconds.", t.retry_after)
        }
        Notice::Busy => "The service is busy. Try again in a moment.".into(),
        Notice::Expired => "This sign-in has expired. Sign in again.".into(),
        Notice::PasskeyRefused => {
            "That passkey could not sign you in. Try again, or sign in with your password.".into()
        }
        Notice::SecondPasskeyRefused => {
            "That passkey was not accepted. Try again, or enter a code from your authenticator app."
                .into()
        }
        Notice::EmailNotVerified => {
            "Confirm your email address first: open the link we sent to it. No message? We can send it again.".into()
        }
        Notice::VerificationSent => {
            "If this address has an account waiting for confirmation, a new link is on its way. Open it, then sign in.".into()
        }
        Notice::UpstreamFailed => {
            "That provider did not sign you in. Try again, or sign in another way.".into()
        }
        Notice::UpstreamEmailTaken => {
            "An account here already has that email address. Sign in with it, then link the provider from your account.".into()
        }
        Notice::UpstreamNoAccount => {
            "No account here is linked to that sign-in. Sign in another way, then link the provider from your account.".into()
        }
        Notice::UpstreamNoEmail => {
            "That provider did not share a usable email address, which an account here needs.".into()
        }
    }
}

async fn start(state: &AppState, req: &HttpRequest, params: Params) -> HttpResponse {
    let cookie = BrowserCookie::Sso.read(req, state);
    let outcome = state.signin.start(params, cookie.as_deref()).await;
    render_step(state, req, outcome).await
}

/// Starts an authorization (book § Sign-in with the authorization-code flow).
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
        ("response_mode" = Option<String>, Query, description = "`query` (default) or `form_post`"),
        ("id_token_hint" = Option<String>, Query, description = "An ID token this issuer gave the client, naming the user it expects (expired ones count)"),
        ("dpop_jkt" = Option<String>, Query, description = "RFC 9449 §10: the thumbprint of the DPoP key the code will be redeemed with"),
        ("request_uri" = Option<String>, Query, description = "A pushed request's `urn:ietf:params:oauth:request_uri:…` (RFC 9126), with `client_id`; every other parameter is then ignored")),
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
    /// An ID token this issuer gave the client, naming the user it expects.
    id_token_hint: Option<String>,
    /// The thumbprint of the DPoP key the code will be redeemed with (RFC 9449 §10).
    dpop_jkt: Option<String>,
    /// A pushed request's `urn:ietf:params:oauth:request_uri:…` (RFC 9126; not at PAR).
    request_uri: Option<String>,
}

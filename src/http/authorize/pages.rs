//! The hosted pages' rendering: templates, the stylesheet, the per-page CSP, cookies,
//! and the answer that goes back to the client.

use std::sync::LazyLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use sha2::{Digest, Sha256};

use crate::service::authorize::{self as flow, Request, ResponseMode, Return};
use crate::state::AppState;

/// The hosted pages' two cookies. With an `https` issuer they carry the `__Host-` prefix
/// (`Secure`, `Path=/`, no `Domain`), so a sibling subdomain cannot plant or shadow them
/// (RFC 6265bis §4.1.3.2); over plain http (loopback development) the prefix is not allowed, and
/// they are scoped to `/oauth2`.
#[derive(Debug, Clone, Copy)]
pub enum BrowserCookie {
    /// The sign-in (SSO) session.
    Sso,
    /// The CSRF secret the forms' tokens are derived from.
    Csrf,
}

impl BrowserCookie {
    pub fn name(self, state: &AppState) -> &'static str {
        match (self, state.settings.is_https()) {
            (BrowserCookie::Sso, true) => "__Host-tessera_sso",
            (BrowserCookie::Sso, false) => "tessera_sso",
            (BrowserCookie::Csrf, true) => "__Host-tessera_csrf",
            (BrowserCookie::Csrf, false) => "tessera_csrf",
        }
    }

    /// This cookie's value in the request, if any.
    pub fn read(self, req: &HttpRequest, state: &AppState) -> Option<String> {
        req.cookie(self.name(state)).map(|c| c.value().to_owned())
    }
}

pub(super) const STYLESHEET: &str = include_str!("../../../static/tessera.css");

/// `/assets/tessera-<hash>.css`: a new stylesheet is a new URL, so it can be cached forever.
pub static STYLESHEET_PATH: LazyLock<String> = LazyLock::new(|| {
    let hash = hex::encode(&Sha256::digest(STYLESHEET.as_bytes())[..8]);
    format!("/assets/tessera-{hash}.css")
});

/// The script a `form_post` answer runs to submit itself (allowed by its hash).
pub(super) const AUTO_SUBMIT: &str = "document.getElementById('answer').submit();";
pub(super) static AUTO_SUBMIT_HASH: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine;
    let digest = Sha256::digest(AUTO_SUBMIT.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
});

/// The sign-in page's passkey script (`static/passkey.js`), a same-origin file under the
/// page's CSP (book § Passkeys).
const PASSKEY_SCRIPT: &str = include_str!("../../../static/passkey.js");

/// `/assets/passkey-<hash>.js`, cached forever like the stylesheet.
pub static PASSKEY_SCRIPT_PATH: LazyLock<String> = LazyLock::new(|| {
    let hash = hex::encode(&Sha256::digest(PASSKEY_SCRIPT.as_bytes())[..8]);
    format!("/assets/passkey-{hash}.js")
});

/// The scripts a page may run: none (the default), the `form_post` answer's
/// self-submission (by its hash), or tessera's own files with calls back to tessera (the
/// sign-in page with passkeys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scripts {
    None,
    AutoSubmit,
    Own,
}

impl Scripts {
    /// tessera's own scripts when `wanted`, else none.
    pub(super) fn own_when(wanted: bool) -> Scripts {
        match wanted {
            true => Scripts::Own,
            false => Scripts::None,
        }
    }
}

/// What every sign-in form posts back (`posted_fields.html`): the sealed flow and the
/// CSRF token.
pub(super) struct Posted<'a> {
    pub(super) flow: &'a str,
    pub(super) csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "signin.html")]
pub(super) struct SignInPage<'a> {
    pub(super) stylesheet: &'a str,
    pub(super) form: Posted<'a>,
    pub(super) client_name: &'a str,
    pub(super) email: &'a str,
    pub(super) error: Option<&'a str>,
    /// Offer to send the verification link again (a sign-in refused for an unverified
    /// address).
    pub(super) resend: bool,
    /// The message is news (a link is on its way), not a refusal.
    pub(super) news: bool,
    /// The passkey script's path, when passkeys are on.
    pub(super) passkey_script: Option<&'a str>,
    /// "Continue with" links: where each goes, and the provider's name.
    pub(super) upstreams: Vec<(String, String)>,
}

/// What following an email link came to (book § Email).
#[derive(Template)]
#[template(path = "email_link.html")]
pub(super) struct EmailLinkPage<'a> {
    pub(super) stylesheet: &'a str,
    pub(super) title: &'a str,
    pub(super) message: &'a str,
}

#[derive(Template)]
#[template(path = "mfa.html")]
pub(super) struct MfaPage<'a> {
    pub(super) stylesheet: &'a str,
    pub(super) form: Posted<'a>,
    pub(super) mfa_token: &'a str,
    pub(super) error: Option<&'a str>,
    /// The passkey script's path, when the user may answer with a passkey.
    pub(super) passkey_script: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub(super) struct ConsentPage<'a> {
    pub(super) stylesheet: &'a str,
    pub(super) form: Posted<'a>,
    pub(super) client_name: &'a str,
    pub(super) email: &'a str,
    pub(super) scopes: Vec<String>,
}

#[derive(Template)]
#[template(path = "confirm_logout.html")]
pub(super) struct ConfirmLogoutPage<'a> {
    pub(super) stylesheet: &'a str,
    pub(super) client_name: Option<&'a str>,
    pub(super) email: &'a str,
    pub(super) csrf_token: &'a str,
    pub(super) fields: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub(super) struct ErrorPage<'a> {
    pub(super) stylesheet: &'a str,
    pub(super) message: &'a str,
}

#[derive(Template)]
#[template(path = "form_post.html")]
pub(super) struct FormPostPage<'a> {
    pub(super) stylesheet: &'a str,
    pub(super) action: &'a str,
    pub(super) fields: Vec<(&'static str, String)>,
    pub(super) script: &'a str,
}

/// What a scope lets the client do, as the consent page says it.
pub(super) fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are".into(),
        "email" => "See your email address".into(),
        "profile" => "See your name".into(),
        other => format!("Use “{other}”"),
    }
}

/// A page, with the policy that lets it load its stylesheet and post its forms (to
/// tessera, and on to `target`, the client's origin the answer redirects to).
pub(super) fn page(
    status: StatusCode,
    html: String,
    target: Option<&str>,
    scripts: Scripts,
) -> HttpResponse {
    let mut form_action = "'self'".to_owned();
    if let Some(target) = target {
        form_action.push(' ');
        form_action.push_str(target);
    }
    let script_src = match scripts {
        Scripts::None => String::new(),
        Scripts::AutoSubmit => format!("; script-src {}", *AUTO_SUBMIT_HASH),
        Scripts::Own => "; script-src 'self'; connect-src 'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'{script_src}"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // a page's address may hold a link's token: no other site is told it
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(html)
}

pub(super) fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page failed to render");
        "<!doctype html><title>Error</title><p>Something went wrong.</p>".into()
    })
}

/// The error page: the request cannot go back to any client.
pub(super) fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let html = render(&ErrorPage {
        stylesheet: &STYLESHEET_PATH,
        message,
    });
    page(status, html, None, Scripts::None)
}

pub(super) fn cookie(
    state: &AppState,
    which: BrowserCookie,
    value: String,
    max_age: time::Duration,
) -> Cookie<'static> {
    let path = if state.settings.is_https() {
        "/"
    } else {
        "/oauth2"
    };
    Cookie::build(which.name(state), value)
        .path(path)
        .http_only(true)
        .secure(state.settings.is_https())
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

/// The browser's CSRF cookie value, and whether it is new (to be set on the response).
pub(super) fn csrf_cookie(state: &AppState, req: &HttpRequest) -> (String, bool) {
    match BrowserCookie::Csrf.read(req, state) {
        Some(value) if (20..=64).contains(&value.len()) => (value, false),
        _ => (flow::new_csrf_cookie(), true),
    }
}

/// Renders a form page with the browser's CSRF token (setting its cookie when new).
/// A hosted form of `request`'s flow: `build` gets the sealed flow and this browser's CSRF
/// token; the policy lets the form post on to the client's origin; a refused attempt
/// (`refused`) answers 400.
pub(super) fn form_page(
    state: &AppState,
    req: &HttpRequest,
    request: &Request,
    refused: bool,
    bound_sso: Option<&str>,
    scripts: Scripts,
    build: impl FnOnce(&str, &str) -> String,
) -> HttpResponse {
    let sealed = state.browser.seal_flow(&request.params, bound_sso);
    let target = flow::form_target(&request.back.redirect_uri);
    let status = if refused {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    csrf_page(
        state,
        req,
        status,
        (target.as_deref(), scripts),
        |csrf_token| build(&sealed, csrf_token),
    )
}

/// A page with a form: `build` gets this browser's CSRF token (its cookie is set when new);
/// the form may post to tessera and end at `target`, and the page runs `scripts`.
pub(super) fn csrf_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    (target, scripts): (Option<&str>, Scripts),
    build: impl FnOnce(&str) -> String,
) -> HttpResponse {
    let (csrf, new) = csrf_cookie(state, req);
    let html = build(&state.browser.csrf_token(&csrf));
    let mut response = page(status, html, target, scripts);
    if new {
        let _ = response.add_cookie(&cookie(
            state,
            BrowserCookie::Csrf,
            csrf,
            time::Duration::hours(12),
        ));
    }
    response
}

/// Sends the answer (a code or an error) back to the client the way it asked.
pub(super) fn answer(
    state: &AppState,
    back: &Return,
    result: Result<&str, (&str, &str)>,
) -> HttpResponse {
    let pairs = flow::answer(&state.settings.issuer, back, result);
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
            page(StatusCode::OK, html, target.as_deref(), Scripts::AutoSubmit)
        }
    }
}

/// The pages' icon (an SVG tile), declared by every page and also served at
/// `/favicon.ico`, so no browser logs a failed icon request on a hosted page.
pub const ICON_PATH: &str = "/assets/tessera-icon.svg";
const ICON: &str = include_str!("../../../static/icon.svg");

pub async fn icon() -> HttpResponse {
    asset("image/svg+xml", "public, max-age=86400", ICON)
}

/// The hosted pages' stylesheet.
pub async fn stylesheet() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        "public, max-age=31536000, immutable",
        STYLESHEET,
    )
}

/// The sign-in page's passkey script.
pub async fn passkey_script() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        "public, max-age=31536000, immutable",
        PASSKEY_SCRIPT,
    )
}

fn asset(content_type: &'static str, cache: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body)
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub(super) struct SignedOutPage<'a> {
    pub(super) stylesheet: &'a str,
}

//! `GET|POST /oauth2/authorize` and the hosted pages behind it (README § Sign-in with the authorization-code flow): sign-in, the
//! second factor, consent, and the error page. Server-rendered (askama, checked at compile
//! time), no JavaScript needed, one stylesheet served by tessera under its content hash,
//! a CSP without `unsafe-inline` whose `form-action` names the client's origin (Chromium
//! applies it to the redirect that follows a form post), a CSRF token on every form tied
//! to a cookie of the browser's own.

mod forms;
mod logout;
mod pages;

pub use forms::*;
pub use logout::*;
use pages::*;
pub use pages::{icon, stylesheet, BrowserCookie, ICON_PATH, STYLESHEET_PATH};

use actix_web::{web, HttpRequest, HttpResponse};

use crate::service::authorize::{self as flow, Next, Params, Refusal, Request};
use crate::state::AppState;
use crate::store::SsoSession;

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
            let Some((sso, user)) = &session else {
                return sign_in_page(state, req, request, "", None);
            };
            form_page(
                state,
                req,
                request,
                false,
                Some(&sso.id),
                |flow, csrf_token| {
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
                        flow,
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
    let cookie = BrowserCookie::Sso.read(req, state);
    let session = match flow::sso_session(state, cookie.as_deref()).await {
        Ok(session) => session,
        Err(e) => return refused(state, Refusal::Store(e)),
    };
    proceed(state, req, &request, session, false).await
}

/// Starts an authorization (README § Sign-in with the authorization-code flow).
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

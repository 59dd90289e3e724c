//! RP-initiated logout (`end_session_endpoint`).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::*;
use super::refusals::refused;
use crate::http::extract::session_meta;
use crate::service::authorize::Refusal;
use crate::state::AppState;

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
    /// The confirmation page's CSRF token (with `confirm=yes`).
    csrf_token: Option<String>,
    /// `yes` when the user confirmed on tessera's page.
    confirm: Option<String>,
}

/// A sign-out request as posted: the parameters, and for a confirmation the page's CSRF
/// token and `confirm=yes`.
#[derive(serde::Deserialize)]
pub struct LogoutForm {
    #[serde(flatten)]
    params: crate::service::logout::Params,
    csrf_token: Option<String>,
    confirm: Option<String>,
}

async fn sign_out(
    state: &AppState,
    req: &HttpRequest,
    params: crate::service::logout::Params,
    confirmed: bool,
) -> HttpResponse {
    use crate::service::logout::{Outcome, Refusal as LogoutRefusal};
    let sso = BrowserCookie::Sso.read(req, state);
    let ip = session_meta(req).ip;
    let checked = match state.sign_out.plan(&params, sso.as_deref()).await {
        Ok(checked) => checked,
        Err(LogoutRefusal::Page(message)) => return error_page(StatusCode::BAD_REQUEST, message),
        Err(LogoutRefusal::Store(e)) => return refused(state, Refusal::Store(e)),
    };
    if checked.needs_confirmation() && !confirmed {
        let target = checked.return_origin();
        return confirmation(state, req, &params, checked.signed_in_email(), target).await;
    }
    let mut response = match state.sign_out.logout(checked, ip).await {
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
            Scripts::None,
        ),
        Err(LogoutRefusal::Page(message)) => return error_page(StatusCode::BAD_REQUEST, message),
        Err(LogoutRefusal::Store(e)) => return refused(state, Refusal::Store(e)),
    };
    let _ = response.add_cookie(&cookie(
        state,
        BrowserCookie::Sso,
        String::new(),
        time::Duration::ZERO,
    ));
    response
}

/// The page that asks the user to confirm a sign-out nothing vouches for: a POST of the
/// same parameters with this browser's CSRF token, so no other site can submit it.
async fn confirmation(
    state: &AppState,
    req: &HttpRequest,
    params: &crate::service::logout::Params,
    email: String,
    target: Option<String>,
) -> HttpResponse {
    let client = match params
        .client_id
        .as_deref()
        .map(crate::domain::ClientId::parse)
    {
        Some(Ok(id)) => state.stores.clients.find_client(&id).await.ok().flatten(),
        _ => None,
    };
    let fields: Vec<(&'static str, String)> = [
        ("post_logout_redirect_uri", &params.post_logout_redirect_uri),
        ("state", &params.state),
        ("client_id", &params.client_id),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
    .collect();
    csrf_page(
        state,
        req,
        StatusCode::OK,
        (target.as_deref(), Scripts::None),
        |csrf_token| {
            render(&ConfirmLogoutPage {
                stylesheet: &STYLESHEET_PATH,
                client_name: client.as_ref().map(|c| c.name.as_str()),
                email: &email,
                csrf_token,
                fields,
            })
        },
    )
}

/// RP-initiated logout (`end_session_endpoint`).
#[utoipa::path(get, path = "/oauth2/logout", tag = "oauth2",
    params(
        ("id_token_hint" = Option<String>, Query),
        ("post_logout_redirect_uri" = Option<String>, Query),
        ("state" = Option<String>, Query),
        ("client_id" = Option<String>, Query)),
    responses(
        (status = 200, description = "Signed out: tessera's page; or, without an ID token of the signed-in user, a page asking the user to confirm (nothing ended yet)", content_type = "text/html"),
        (status = 303, description = "Signed out: back to the registered post_logout_redirect_uri with state"),
        (status = 400, description = "An ID token or redirect URI that is not this client's: an error page, nothing ended", content_type = "text/html")))]
pub async fn logout_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<crate::service::logout::Params>,
) -> HttpResponse {
    sign_out(&state, &req, query.into_inner(), false).await
}

/// RP-initiated logout, form-encoded.
#[utoipa::path(post, path = "/oauth2/logout", tag = "oauth2",
    request_body(content = LogoutRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed out: tessera's page; or the confirmation page when neither an ID token of the signed-in user nor a confirmed form with this browser's CSRF token vouches for the request", content_type = "text/html"),
        (status = 303, description = "Back to the registered post_logout_redirect_uri with state"),
        (status = 400, description = "Not this client's: an error page, nothing ended", content_type = "text/html")))]
pub async fn logout_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let cookie = BrowserCookie::Csrf.read(&req, &state);
    let confirmed = form.confirm.as_deref() == Some("yes")
        && state
            .browser
            .csrf_matches(cookie.as_deref(), form.csrf_token.as_deref());
    sign_out(&state, &req, form.params, confirmed).await
}

//! `GET /oauth2/upstream/{id}/start` and `GET /oauth2/upstream/{id}/callback` (book §
//! Upstream providers): the sign-in page's "Continue with" links go to the provider, and
//! the provider sends the browser back. Both are plain navigations (a form post's
//! redirect to another origin would meet the pages' `form-action`); what binds the trip
//! to this browser is its CSRF cookie, whose digest the trip keeps.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::pages::{
    cookie, csrf_cookie, page, render, BrowserCookie, EmailLinkPage, Scripts, STYLESHEET_PATH,
};
use super::render_step;
use crate::http::extract::session_meta;
use crate::service::upstream::Callback;
use crate::state::AppState;

/// Where a "Continue with" link for provider `id` goes, carrying the page's sealed flow.
pub fn start_link(id: &str, flow: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("flow", flow)
        .finish();
    format!("/oauth2/upstream/{id}/start?{query}")
}

/// A page that says how something ended.
pub fn told(title: &str, message: &str) -> HttpResponse {
    let html = render(&EmailLinkPage {
        stylesheet: &STYLESHEET_PATH,
        title,
        message,
    });
    page(StatusCode::OK, html, None, Scripts::None)
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    flow: Option<String>,
}

/// "Continue with …": the browser goes to the provider.
#[utoipa::path(get, path = "/oauth2/upstream/{id}/start", tag = "oauth2",
    params(("id" = String, Path, description = "The provider's id"),
        ("flow" = String, Query, description = "The sign-in page's sealed flow")),
    responses(
        (status = 303, description = "To the provider's authorization endpoint"),
        (status = 400, description = "Unknown or disabled provider, or an expired flow: an error page; or the sign-in page saying the provider could not be reached", content_type = "text/html"),
        (status = 429, description = "The address's sign-in allowance is spent: the sign-in page saying when to retry", content_type = "text/html")))]
pub async fn upstream_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<StartQuery>,
) -> HttpResponse {
    let (csrf, new) = csrf_cookie(&state, &req);
    let outcome = state
        .signin
        .upstream_start(&id, query.flow.as_deref(), &csrf, &session_meta(&req))
        .await;
    let mut response = render_step(&state, &req, outcome).await;
    if new {
        let max_age = time::Duration::hours(12);
        let _ = response.add_cookie(&cookie(&state, BrowserCookie::Csrf, csrf, max_age));
    }
    response
}

/// The provider's answer: the sign-in continues (or a link is made).
#[utoipa::path(get, path = "/oauth2/upstream/{id}/callback", tag = "oauth2",
    params(("id" = String, Path, description = "The provider's id"),
        ("state" = String, Query), ("code" = Option<String>, Query),
        ("error" = Option<String>, Query),
        ("iss" = Option<String>, Query, description = "RFC 9207: must be the provider's issuer when given")),
    responses(
        (status = 200, description = "The next page (second factor, consent, a link made) or the form_post answer", content_type = "text/html"),
        (status = 303, description = "Back to the client with a code"),
        (status = 400, description = "The sign-in page with a message, or an error page (unknown, used or expired state)", content_type = "text/html")))]
pub async fn upstream_callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<Callback>,
) -> HttpResponse {
    let csrf = BrowserCookie::Csrf.read(&req, &state);
    let sso = BrowserCookie::Sso.read(&req, &state);
    let outcome = state
        .signin
        .upstream_callback(
            &id,
            &query,
            (csrf.as_deref(), sso.as_deref()),
            &session_meta(&req),
        )
        .await;
    render_step(&state, &req, outcome).await
}

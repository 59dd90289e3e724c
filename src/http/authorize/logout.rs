//! RP-initiated logout (`end_session_endpoint`).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::*;
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

//! The pages an email link opens (book § Email): `GET /email/verify?token=…` verifies the
//! address, `GET /email/confirm?token=…` moves the account to the new one. One browser
//! GET does it, and the page says what happened.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::pages::{page, render, EmailLinkPage, Scripts, STYLESHEET_PATH};
use crate::http::extract::ClientIp;
use crate::service::email::Followed;
use crate::state::AppState;
use crate::store::LinkPurpose;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The `tse_…` token from the message.
    token: Option<String>,
}

/// Follows a verification link; a page says whether the address is now verified.
#[utoipa::path(get, path = "/email/verify", tag = "accounts",
    params(LinkQuery),
    responses(
        (status = 200, description = "The address is verified", content_type = "text/html"),
        (status = 400, description = "The link is invalid, used or expired", content_type = "text/html"),
        crate::http::error::responses::Busy))]
pub async fn verify(
    state: web::Data<AppState>,
    query: web::Query<LinkQuery>,
    ip: ClientIp,
) -> HttpResponse {
    follow(&state, query.into_inner(), LinkPurpose::Verify, ip).await
}

/// Follows a change-of-address link; a page says whether the account moved.
#[utoipa::path(get, path = "/email/confirm", tag = "accounts",
    params(LinkQuery),
    responses(
        (status = 200, description = "The account now has the new address", content_type = "text/html"),
        (status = 400, description = "The link is invalid, used or expired", content_type = "text/html"),
        (status = 409, description = "The new address belongs to another account now; nothing changed", content_type = "text/html"),
        crate::http::error::responses::Busy))]
pub async fn confirm(
    state: web::Data<AppState>,
    query: web::Query<LinkQuery>,
    ip: ClientIp,
) -> HttpResponse {
    follow(&state, query.into_inner(), LinkPurpose::Change, ip).await
}

async fn follow(
    state: &AppState,
    query: LinkQuery,
    purpose: LinkPurpose,
    ClientIp(ip): ClientIp,
) -> HttpResponse {
    let token = query.token.unwrap_or_default();
    let followed = state.email.follow(&token, purpose, ip).await;
    let (status, title, message) = match followed {
        Ok(Followed::Verified) => (
            StatusCode::OK,
            "Email address confirmed",
            "Thank you: your email address is confirmed. You can close this page and sign in.",
        ),
        Ok(Followed::Changed) => (
            StatusCode::OK,
            "Email address changed",
            "Your account now uses this email address: sign in with it from now on. We told your old address about the change.",
        ),
        Ok(Followed::Taken) => (
            StatusCode::CONFLICT,
            "Email address not changed",
            "This email address belongs to another account now, so your account keeps its address.",
        ),
        Ok(Followed::Invalid) => (
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "The link is not valid: it was already used, or it expired (links work for 24 hours). Ask for a new link and use the most recent message.",
        ),
        Err(e) => {
            tracing::warn!(error = %e, "an email link could not be followed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                "The service is busy and could not open this link. It still works: open it again in a moment.",
            )
        }
    };
    let html = render(&EmailLinkPage {
        stylesheet: &STYLESHEET_PATH,
        title,
        message,
    });
    page(status, html, None, Scripts::None)
}

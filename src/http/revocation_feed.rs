//! `GET|POST /oauth2/revocations` (book § Verifying tokens in other services): the revocation feed, for confidential
//! clients, scoped like introspection.

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use super::form::Form;
use super::oauth_client::authenticate;
use crate::domain::OAuthError;
use crate::service::feed::{self, FeedError, Page};
use crate::state::AppState;

/// What the feed answers (both methods).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum FeedResponses {
    /// Events (empty: caught up) and the cursor to read on from.
    #[response(status = 200)]
    Page(#[to_schema] Page),
    /// invalid_request: a malformed cursor or limit, or a secret in the query string.
    #[response(status = 400)]
    Invalid(crate::http::error::OAuthErrorBody),
    /// invalid_client: unauthenticated, or a public client.
    #[response(status = 401)]
    Unauthenticated(crate::http::error::OAuthErrorBody),
    /// cursor_expired: events after the cursor are no longer kept, or the cursor is from
    /// another store epoch (a restore, an import) or ahead of the feed; read again without
    /// after.
    #[response(status = 410)]
    Expired(crate::http::error::OAuthErrorBody),
    /// Too many failed client authentications: Retry-After.
    #[response(status = 429)]
    Throttled(crate::http::error::OAuthErrorBody),
    /// A backend is down: Retry-After.
    #[response(status = 503)]
    Unavailable(crate::http::error::OAuthErrorBody),
}

/// The feed's parameters.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct FeedRequest {
    /// The `next` of the previous page; without it, from the oldest event kept.
    after: Option<String>,
    /// At most this many events (1–1000, default 100).
    limit: Option<u32>,
}

async fn answer(
    req: &HttpRequest,
    mut form: Form,
    state: &AppState,
) -> Result<HttpResponse, OAuthError> {
    let client = authenticate(req, &mut form, state).await?;
    // only a client that can keep a secret reads what was revoked (as for introspection)
    if client.public {
        return Err(OAuthError::InvalidClient);
    }
    let limit = match form.get("limit") {
        None => feed::DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=feed::MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                OAuthError::InvalidRequest("limit must be a number from 1 to 1000".into())
            })?,
    };
    let page = feed::read(
        &state.stores,
        &state.settings,
        &client,
        form.get("after"),
        limit,
    )
    .await;
    let page: Page = match page {
        Ok(page) => page,
        Err(FeedError::Malformed) => {
            return Err(OAuthError::InvalidRequest(
                "after is not a cursor this feed gave out".into(),
            ))
        }
        Err(FeedError::Expired) => {
            return Ok(HttpResponse::build(StatusCode::GONE)
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({
                    "error": "cursor_expired",
                    "error_description": "events after this cursor are no longer kept: read again without after",
                })))
        }
        Err(FeedError::Store(e)) => return Err(e.into()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(page))
}

/// The revocation feed: what an offline verifier must refuse although the signature
/// still verifies, oldest first.
#[utoipa::path(get, path = "/oauth2/revocations", tag = "oauth2",
    params(
        ("after" = Option<String>, Query, description = "The `next` of the previous page; without it, from the oldest event kept"),
        ("limit" = Option<u32>, Query, description = "At most this many events (1–1000, default 100)")),
    security(("client_basic" = [])),
    responses(FeedResponses))]
pub async fn feed_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::query(&req)?;
    // a secret in a URL ends up in logs: GET takes HTTP Basic only
    if form.get("client_secret").is_some() {
        return Err(OAuthError::InvalidRequest(
            "send client credentials with HTTP Basic, or POST them in the form".into(),
        ));
    }
    answer(&req, form, &state).await
}

/// The revocation feed, form-encoded (`client_secret_post` or HTTP Basic).
#[utoipa::path(post, path = "/oauth2/revocations", tag = "oauth2",
    request_body(content = FeedRequest, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(FeedResponses))]
pub async fn feed_post(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form = Form::parse(&req, &body)?;
    answer(&req, form, &state).await
}

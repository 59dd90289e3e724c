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
use crate::store::Revocation;

/// One event of the feed as verifiers read it. Times are Unix seconds.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = Revocation)]
pub enum RevocationEvent {
    /// One access token revoked (RFC 7009, or presented at logout).
    Jti { jti: String, exp: i64 },
    /// A session (refresh family) ended; `exp`: its last access token's expiry at the latest.
    Session { sid: String, exp: i64 },
    /// Every token of the user issued before `not_before` is void.
    User { sub: String, not_before: i64 },
    /// An emergency key revocation: tokens signed with `kid` are void.
    Key { kid: String },
    /// A client was deleted: every token issued to it before `not_before` is void.
    Client { client_id: String, not_before: i64 },
}

impl From<Revocation> for RevocationEvent {
    fn from(event: Revocation) -> Self {
        match event {
            Revocation::Jti { jti, exp } => RevocationEvent::Jti { jti, exp },
            Revocation::Session { sid, exp } => RevocationEvent::Session { sid, exp },
            Revocation::User { sub, not_before } => RevocationEvent::User { sub, not_before },
            Revocation::Key { kid } => RevocationEvent::Key { kid },
            Revocation::Client {
                client_id,
                not_before,
            } => RevocationEvent::Client {
                client_id,
                not_before,
            },
        }
    }
}

/// One page of the feed for `client`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Page)]
pub struct PageBody {
    /// Oldest first; empty (with `more` false) when the client is caught up.
    pub events: Vec<RevocationEvent>,
    /// Where to read on from (`after`).
    pub next: String,
    /// The request stopped before the end of the feed (a full page, or the most stored
    /// events one request reads): read on from `next` even if `events` is empty.
    pub more: bool,
}

impl From<Page> for PageBody {
    fn from(page: Page) -> Self {
        PageBody {
            events: page.events.into_iter().map(RevocationEvent::from).collect(),
            next: page.next,
            more: page.more,
        }
    }
}

/// What the feed answers (both methods).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
enum FeedResponses {
    /// Events (empty: caught up) and the cursor to read on from.
    #[response(status = 200)]
    Page(#[to_schema] PageBody),
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
        .json(PageBody::from(page)))
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

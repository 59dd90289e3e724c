//! The admin plane (book § Endpoints), served only on the admin listener: every `/admin/*` call
//! needs `Authorization: Bearer <token>` whose SHA-256 matches a configured entry, and is
//! audited with the token's label, method, path and outcome. `/metrics` (Prometheus) is
//! served beside it without a token: the admin listener is private by deployment.

pub mod audit;
pub mod clients;
pub mod keys;
pub mod outbox;
pub mod providers;
pub mod users;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, HttpMessage, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::http::error::{ApiError, FieldError};
use crate::service::admin::Operator;
use crate::state::AppState;
use crate::store::AuditEvent;

/// Shortest and longest bearer we hash; anything else is refused before hashing.
const MIN_TOKEN_LEN: usize = 32;
const MAX_TOKEN_LEN: usize = 512;

/// The authenticated admin, by the label of the token used (for the audit trail).
#[derive(Debug, Clone)]
pub struct AdminPrincipal {
    pub label: String,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(require_admin))
            .wrap(DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
            .configure(keys::routes)
            .configure(clients::routes)
            .configure(providers::routes)
            .configure(users::routes)
            .configure(outbox::routes)
            .configure(audit::routes),
    )
    .route("/metrics", web::get().to(metrics));
}

/// Prometheus text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "admin",
    responses((status = 200, description = "Prometheus metrics", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(crate::metrics::render(
            &state.keyring,
            &state.hasher,
            state.clock.now(),
        ))
}

/// The authenticated admin as the acting operator (label and time) for service calls: an
/// extractor, so handlers never assemble it themselves.
pub struct AdminCaller(pub Operator);

impl actix_web::FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let principal = req.extensions().get::<AdminPrincipal>().cloned();
        let state = req.app_data::<web::Data<AppState>>();
        std::future::ready(match (principal, state) {
            (Some(admin), Some(state)) => Ok(AdminCaller(Operator {
                actor: admin.label,
                now: state.clock.now(),
            })),
            // only reachable on a route outside the `require_admin` scope
            _ => Err(ApiError::Unauthorized {
                realm: "tessera-admin",
            }),
        })
    }
}

/// A 400 naming the bad parameter.
pub(crate) fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_request",
        description: format!("{field}: {message}"),
        fields: vec![FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }],
    }
}

/// A page size within `1..=max` (`default` when absent).
pub(crate) fn page_limit(
    limit: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(invalid("limit", &format!("must be from 1 to {max}"))),
    }
}

/// A JSON body that may be absent (empty means all defaults); unknown fields are refused.
pub(crate) fn parse_optional_json<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        ApiError::BadRequest {
            code: "invalid_request",
            description: "request body is not valid JSON for this endpoint".into(),
            fields: super::field_of(&message).into_iter().collect(),
        }
    })
}

async fn require_admin(
    state: web::Data<AppState>,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| (MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&t.len()));
    let label = presented.and_then(|token| {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // check every entry, so timing does not tell which (or whether one) matched
        state
            .settings
            .admin_tokens
            .iter()
            .fold(None, |found, entry| {
                let hit = entry.matches(&digest);
                found.or(hit.then(|| entry.label.clone()))
            })
    });
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let Some(label) = label else {
        tracing::warn!(path, "admin authentication failed");
        let event = AuditEvent::new("admin_auth_failed", "denied")
            .ip(ip)
            .detail(json!({ "method": method, "path": path }));
        state.audit.record(event).await;
        return Err(ApiError::Unauthorized {
            realm: "tessera-admin",
        }
        .into());
    };
    req.extensions_mut().insert(AdminPrincipal {
        label: label.clone(),
    });
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let outcome = match status.as_u16() {
        500.. => "failed",
        400.. => "refused",
        _ => "ok",
    };
    let event = AuditEvent::new("admin_request", outcome)
        .actor(label)
        .ip(ip)
        .detail(json!({ "method": method, "path": path, "status": status.as_u16() }));
    state.audit.record(event).await;
    result
}

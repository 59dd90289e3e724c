//! The admin plane (SPEC S12), served only on the admin listener: every `/admin/*` call
//! needs `Authorization: Bearer <token>` whose SHA-256 matches a configured entry.

pub mod keys;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::startup::AppState;

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
            .configure(keys::routes),
    );
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
    match label {
        Some(label) => {
            req.extensions_mut().insert(AdminPrincipal { label });
            next.call(req).await
        }
        None => {
            tracing::warn!(path = req.path(), "admin authentication failed");
            Err(ApiError::Unauthorized {
                realm: "tessera-admin",
            }
            .into())
        }
    }
}

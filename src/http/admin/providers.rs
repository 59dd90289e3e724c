//! `/admin/providers` (book § Upstream providers): upstream identity providers. The client
//! secret is write-only: answers say only whether one is set.

use actix_web::web;
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::AdminCaller;
use crate::http::error::ApiError;
use crate::service::admin::{self, ProviderView};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/providers", web::post().to(create))
        .route("/providers", web::get().to(list))
        .route("/providers/{id}", web::get().to(get))
        .route("/providers/{id}", web::patch().to(update))
        .route("/providers/{id}", web::delete().to(delete));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub providers: Vec<ProviderView>,
}

/// Registers a provider; `client_secret` is stored sealed and never shown again.
#[utoipa::path(post, path = "/admin/providers", tag = "admin",
    security(("admin_token" = [])),
    request_body(content = Object, description = "`id`, `client_secret` and the fields of `ProviderSettings`, side by side"),
    responses(
        (status = 201, description = "Registered", body = ProviderView),
        (status = 400, description = "Invalid settings", body = crate::http::error::ErrorBody),
        (status = 409, description = "A provider with this id exists", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused))]
pub async fn create(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let document = admin::ProviderDocument::parse(body.into_inner())?;
    let provider =
        admin::create_provider(&state.stores, &state.settings.kek, document, &operator).await?;
    Ok(HttpResponse::Created().json(ProviderView::from(&provider)))
}

/// Every provider, by id.
#[utoipa::path(get, path = "/admin/providers", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The providers", body = ProviderList),
        crate::http::error::responses::AdminTokenRefused))]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let providers = admin::list_providers(&state.stores).await?;
    Ok(HttpResponse::Ok().json(ProviderList {
        providers: providers.iter().map(ProviderView::from).collect(),
    }))
}

/// One provider (never its client secret).
#[utoipa::path(get, path = "/admin/providers/{id}", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Provider id")),
    responses(
        (status = 200, description = "The provider", body = ProviderView),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchProvider))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = admin::existing_provider(&state.stores, &id).await?;
    Ok(HttpResponse::Ok().json(ProviderView::from(&provider)))
}

/// Changes a provider: any settings field (an object such as `claims` is replaced whole),
/// and `client_secret` (a string sets it, `null` removes it); checked as on creation.
#[utoipa::path(patch, path = "/admin/providers/{id}", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Provider id")),
    request_body(content = Object, description = "Fields of `ProviderSettings` and `client_secret`"),
    responses(
        (status = 200, description = "The changed provider", body = ProviderView),
        (status = 400, description = "Invalid change", body = crate::http::error::ErrorBody),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchProvider))]
pub async fn update(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    id: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let mut patch = body.into_inner();
    if patch.contains_key("id") {
        return Err(super::invalid("id", "a provider's id does not change"));
    }
    let secret = admin::take_text(&mut patch, "client_secret")?;
    let secret = secret.as_ref().map(|s| s.as_deref());
    let provider = admin::update_provider(
        &state.stores,
        &state.settings.kek,
        &id,
        patch,
        secret,
        &operator,
    )
    .await?;
    Ok(HttpResponse::Ok().json(ProviderView::from(&provider)))
}

/// Removes a provider.
#[utoipa::path(delete, path = "/admin/providers/{id}", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Provider id")),
    responses(
        (status = 204, description = "Removed"),
        crate::http::error::responses::AdminTokenRefused,
        crate::http::error::responses::NoSuchProvider))]
pub async fn delete(
    state: web::Data<AppState>,
    AdminCaller(operator): AdminCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    admin::delete_provider(&state.stores, &id, &operator).await?;
    Ok(HttpResponse::NoContent().finish())
}

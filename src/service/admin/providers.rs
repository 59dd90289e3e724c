//! Upstream identity providers for operators (book § Upstream providers): registered,
//! changed and removed through the admin API and the CLI, each change audited. The client
//! secret is sealed under the KEK (bound to the provider's id) before it is stored, and
//! never shown again.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::crypto::{Kek, Purpose};
use crate::domain::{Provider, ProviderId, ProviderSettings};
use crate::store::{AuditEvent, ProviderWrite, Stores};

use super::{audit, ManageError, Operator};

/// A provider as the admin API shows it (never its client secret).
/// (The admin API's and the CLI's JSON.)
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub id: String,
    #[serde(flatten)]
    pub settings: ProviderSettings,
    /// Whether a client secret is stored (it is never shown).
    pub client_secret_set: bool,
}

impl From<&Provider> for ProviderView {
    fn from(p: &Provider) -> Self {
        ProviderView {
            id: p.id.to_string(),
            settings: p.settings.clone(),
            client_secret_set: p.client_secret_sealed.is_some(),
        }
    }
}

/// A provider document as the admin API and the CLI take it: `id`, `client_secret`
/// (write-only) and the settings' fields side by side.
pub struct ProviderDocument {
    pub id: String,
    pub settings: ProviderSettings,
    pub client_secret: Option<String>,
}

impl ProviderDocument {
    pub fn parse(mut body: Map<String, Value>) -> Result<Self, ManageError> {
        let id = take_text(&mut body, "id")?.flatten().unwrap_or_default();
        let client_secret = take_text(&mut body, "client_secret")?.flatten();
        let settings = serde_json::from_value(Value::Object(body))
            .map_err(|e| ManageError::Invalid(format!("settings: {e}")))?;
        Ok(ProviderDocument {
            id,
            settings,
            client_secret,
        })
    }
}

/// Takes `name` out of a JSON body: absent (`None`), `null` (`Some(None)`) or a string.
pub fn take_text(
    body: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<Option<String>>, ManageError> {
    match body.remove(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s))),
        Some(_) => Err(ManageError::Invalid(format!("{name} must be a string"))),
    }
}

/// The longest client secret taken.
const MAX_SECRET: usize = 1024;

fn parse_id(id: &str) -> Result<ProviderId, ManageError> {
    ProviderId::parse(id).map_err(|e| ManageError::Invalid(e.into()))
}

fn checked(settings: &ProviderSettings) -> Result<(), ManageError> {
    let problems = settings.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ManageError::Invalid(problems.join("; ")))
    }
}

/// `secret` sealed for provider `id`.
fn seal(kek: &Kek, id: &ProviderId, secret: &str) -> Result<Vec<u8>, ManageError> {
    if secret.is_empty() || secret.len() > MAX_SECRET || secret.chars().any(char::is_control) {
        return Err(ManageError::Invalid(format!(
            "client_secret must be 1 to {MAX_SECRET} characters, none a control character"
        )));
    }
    Ok(kek.seal(
        Purpose::ProviderSecret,
        secret.as_bytes(),
        id.as_str().as_bytes(),
    ))
}

async fn changed(stores: &Stores, operator: &Operator, kind: &'static str, id: &ProviderId) {
    let event = AuditEvent::new(kind, "ok").detail(serde_json::json!({ "provider": id }));
    audit(stores, operator, event).await;
}

/// Registers a provider under `id`; `Conflict` when the id is taken.
pub async fn create_provider(
    stores: &Stores,
    kek: &Kek,
    document: ProviderDocument,
    operator: &Operator,
) -> Result<Provider, ManageError> {
    let id = parse_id(&document.id)?;
    checked(&document.settings)?;
    let secret = document.client_secret.as_deref();
    let client_secret_sealed = secret.map(|s| seal(kek, &id, s)).transpose()?;
    let provider = Provider {
        id,
        settings: document.settings,
        client_secret_sealed,
    };
    let written = stores
        .providers
        .write_provider(&provider, ProviderWrite::Create, operator.now);
    if !written.await? {
        return Err(ManageError::Conflict("a provider with this id exists"));
    }
    changed(stores, operator, "provider_created", &provider.id).await;
    Ok(provider)
}

/// The provider with this id, or `NotFound`.
pub async fn existing_provider(stores: &Stores, id: &str) -> Result<Provider, ManageError> {
    let id = ProviderId::parse(id).map_err(|_| ManageError::NotFound)?;
    stores
        .providers
        .find_provider(&id)
        .await?
        .ok_or(ManageError::NotFound)
}

/// Every provider, by id.
pub async fn list_providers(stores: &Stores) -> Result<Vec<Provider>, ManageError> {
    Ok(stores.providers.list_providers().await?)
}

/// Applies `patch` (fields of the settings; an object such as `claims` is replaced whole)
/// and, when given, a new client secret (`Some(None)` removes it); the result is checked
/// as on creation.
pub async fn update_provider(
    stores: &Stores,
    kek: &Kek,
    id: &str,
    patch: Map<String, Value>,
    client_secret: Option<Option<&str>>,
    operator: &Operator,
) -> Result<Provider, ManageError> {
    let mut provider = existing_provider(stores, id).await?;
    let mut document = match serde_json::to_value(&provider.settings) {
        Ok(Value::Object(fields)) => fields,
        _ => {
            return Err(ManageError::Internal(anyhow::anyhow!(
                "settings are not an object"
            )))
        }
    };
    document.extend(patch);
    provider.settings = serde_json::from_value(Value::Object(document))
        .map_err(|e| ManageError::Invalid(e.to_string()))?;
    checked(&provider.settings)?;
    if let Some(secret) = client_secret {
        provider.client_secret_sealed = secret.map(|s| seal(kek, &provider.id, s)).transpose()?;
    }
    let written = stores
        .providers
        .write_provider(&provider, ProviderWrite::Replace, operator.now);
    if !written.await? {
        return Err(ManageError::NotFound);
    }
    changed(stores, operator, "provider_updated", &provider.id).await;
    Ok(provider)
}

/// Removes a provider.
pub async fn delete_provider(
    stores: &Stores,
    id: &str,
    operator: &Operator,
) -> Result<(), ManageError> {
    let id = ProviderId::parse(id).map_err(|_| ManageError::NotFound)?;
    if !stores.providers.delete_provider(&id).await? {
        return Err(ManageError::NotFound);
    }
    changed(stores, operator, "provider_deleted", &id).await;
    Ok(())
}

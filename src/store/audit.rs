//! The audit trail (book § Endpoints).

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreError;

/// An auth or admin event for the audit trail (book § Endpoints).
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub event_type: &'static str,
    pub actor: Option<String>,
    pub user_id: Option<crate::domain::UserId>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: &'static str,
    pub detail: Value,
}

/// A stored audit event (`http::admin::audit` owns the form `/admin/audit` answers).
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Increasing.
    pub id: i64,
    pub at: OffsetDateTime,
    pub event_type: String,
    /// The admin token label, `cli`, `scheduler`, or none for end-user events.
    pub actor: Option<String>,
    pub user_id: Option<crate::domain::UserId>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    pub detail: Value,
}

/// Filters for reading the trail, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<crate::domain::UserId>,
    pub event_type: Option<String>,
    pub since: Option<OffsetDateTime>,
    /// Only events with a smaller id (keyset pagination).
    pub before: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, event: AuditEvent, at: OffsetDateTime) -> Result<(), StoreError>;
    async fn list_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}

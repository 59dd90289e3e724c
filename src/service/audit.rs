//! The audit trail (book § Endpoints): auth events and every admin action, written to
//! `audit_events`. A failed write is logged, never turned into a failed request: the
//! action it describes has already happened.

use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::domain::UserId;
use crate::store::{AuditEvent, AuditStore, Stores};

impl AuditEvent {
    pub fn new(event_type: &'static str, outcome: &'static str) -> Self {
        AuditEvent {
            event_type,
            actor: None,
            user_id: None,
            client_id: None,
            ip: None,
            outcome,
            detail: Value::Object(serde_json::Map::new()),
        }
    }

    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    pub fn user(mut self, user: UserId) -> Self {
        self.user_id = Some(user);
        self
    }

    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client_id = Some(client.into());
        self
    }

    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Who did it and when, for the audit trail: an admin token's label, `cli`, `scheduler`,
/// or `self-registration`.
#[derive(Debug, Clone)]
pub struct Operator {
    pub actor: String,
    pub now: OffsetDateTime,
}

/// Writes audit events at the clock's time.
#[derive(Clone)]
pub struct Auditor {
    store: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
}

impl Auditor {
    pub fn new(store: Arc<dyn AuditStore>, clock: Arc<dyn Clock>) -> Self {
        Auditor { store, clock }
    }

    /// Writes `event` now; a storage failure is logged with the event type.
    pub async fn record(&self, event: AuditEvent) {
        write(self.store.as_ref(), event, self.clock.now()).await;
    }
}

/// Writes `event` as of `at` (an operator's action carries its own time).
pub async fn record_at(stores: &Stores, event: AuditEvent, at: OffsetDateTime) {
    write(stores.audit.as_ref(), event, at).await;
}

async fn write(store: &dyn AuditStore, event: AuditEvent, at: OffsetDateTime) {
    let event_type = event.event_type;
    if let Err(e) = store.record(event, at).await {
        tracing::error!(error = %e, event_type, "could not write an audit event");
    }
}

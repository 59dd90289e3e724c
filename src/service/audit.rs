//! The audit trail (book § Endpoints): auth events and every admin action, written to
//! `audit_events`. A failed write is logged, never turned into a failed request: the
//! action it describes has already happened.

use serde_json::Value;

use crate::state::AppState;
use time::OffsetDateTime;

use crate::store::{AuditEvent, Stores};

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

    pub fn user(mut self, user: uuid::Uuid) -> Self {
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

/// Writes `event` now; a storage failure is logged with the event type.
pub async fn record(state: &AppState, event: AuditEvent) {
    record_at(&state.stores, event, state.clock.now()).await;
}

pub async fn record_at(stores: &Stores, event: AuditEvent, at: OffsetDateTime) {
    let event_type = event.event_type;
    if let Err(e) = stores.audit.record(event, at).await {
        tracing::error!(error = %e, event_type, "could not write an audit event");
    }
}

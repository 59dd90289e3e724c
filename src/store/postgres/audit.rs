//! Audit events in Postgres (SPEC S10).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, PgStore};
use crate::store::{AuditEvent, AuditStore, StoreError};

#[async_trait]
impl AuditStore for PgStore {
    async fn record(&self, event: AuditEvent, at: OffsetDateTime) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO audit_events (at, event_type, actor, user_id, client_id, ip, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&at, &event.event_type, &event.actor, &event.user_id, &event.client_id, &event.ip, &event.outcome, &event.detail],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

//! Audit events in Postgres (book § Endpoints).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, PgStore};
use crate::store::{AuditEvent, AuditFilter, AuditQuery, AuditRecord, AuditStore, StoreError};

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

    async fn list_events(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let client = self.client().await?;
        let filters = q.filters();
        let mut values: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = filters
            .iter()
            .map(|f| -> &(dyn tokio_postgres::types::ToSql + Sync) {
                match f {
                    AuditFilter::User(user) => user,
                    AuditFilter::EventType(name) => name,
                    AuditFilter::Since(at) => at,
                    AuditFilter::Before(id) => id,
                }
            })
            .collect();
        values.push(&q.limit);
        let sql = q.sql(
            "id, at, event_type, actor, user_id, client_id, ip, outcome, detail",
            |i| format!("${i}"),
        );
        let rows = client.query(&sql, &values).await.map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|r| AuditRecord {
                id: r.get("id"),
                at: r.get("at"),
                event_type: r.get("event_type"),
                actor: r.get("actor"),
                user_id: r.get("user_id"),
                client_id: r.get("client_id"),
                ip: r.get("ip"),
                outcome: r.get("outcome"),
                detail: r.get("detail"),
            })
            .collect())
    }
}

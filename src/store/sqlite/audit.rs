//! Audit events in SQLite (book § Endpoints).

use async_trait::async_trait;
use rusqlite::{params, Row};
use time::OffsetDateTime;

use super::{from_micros, micros, user_id_of, SqliteStore};
use crate::store::{AuditEvent, AuditFilter, AuditQuery, AuditRecord, AuditStore, StoreError};

type RawEvent = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn read(r: &Row) -> rusqlite::Result<RawEvent> {
    // rusqlite reads a row into a tuple of its columns
    RawEvent::try_from(r)
}

fn to_record(raw: RawEvent) -> Result<AuditRecord, StoreError> {
    let (id, at, event_type, actor, user, client_id, ip, outcome, detail) = raw;
    Ok(AuditRecord {
        id,
        at: from_micros(at),
        event_type,
        actor,
        user_id: user.as_deref().map(user_id_of).transpose()?,
        client_id,
        ip,
        outcome,
        detail: serde_json::from_str(&detail)
            .map_err(|_| StoreError::Corrupt(format!("audit event {id}: detail")))?,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record(&self, event: AuditEvent, at: OffsetDateTime) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO audit_events (at, event_type, actor, user_id, client_id, ip, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![micros(at), event.event_type, event.actor, event.user_id.map(|u| u.to_string()), event.client_id, event.ip, event.outcome, event.detail.to_string()],
            )
        })
        .await?;
        Ok(())
    }

    async fn list_events(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        use rusqlite::types::Value as Sql;
        let mut values: Vec<Sql> = q
            .filters()
            .iter()
            .map(|f| match f {
                AuditFilter::User(user) => Sql::Text(user.to_string()),
                AuditFilter::EventType(name) => Sql::Text((*name).to_owned()),
                AuditFilter::Since(at) => Sql::Integer(micros(*at)),
                AuditFilter::Before(id) => Sql::Integer(*id),
            })
            .collect();
        values.push(Sql::Integer(q.limit));
        let sql = q.sql(
            "id, at, event_type, actor, user_id, client_id, ip, outcome, detail",
            |i| format!("?{i}"),
        );
        let rows = self
            .run(move |c| {
                let mut stmt = c.prepare(&sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(values), read)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(to_record).collect()
    }
}

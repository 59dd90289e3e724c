//! The outbox in PostgreSQL (book § Email): workers of several instances claim due rows
//! with `FOR UPDATE SKIP LOCKED` and move them on by a lease, so one message is in one
//! worker's hands at a time.

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{unavailable, PgStore};
use crate::domain::MessageId;
use crate::store::{OutboxMessage, OutboxStats, OutboxStore, StoreError};

const COLUMNS: &str =
    "id, kind, dedupe_key, sealed, attempts, next_attempt_at, created_at, last_error, failed";

fn message(r: &Row) -> OutboxMessage {
    let attempts: i32 = r.get(4);
    OutboxMessage {
        id: r.get(0),
        kind: r.get(1),
        dedupe_key: r.get(2),
        sealed: r.get(3),
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: r.get(5),
        created_at: r.get(6),
        last_error: r.get(7),
        failed: r.get(8),
    }
}

/// Writes `message` in the caller's transaction, unless its dedupe key is held already.
pub(super) async fn enqueue(
    client: &deadpool_postgres::Transaction<'_>,
    message: &OutboxMessage,
) -> Result<(), StoreError> {
    let attempts = i32::try_from(message.attempts).unwrap_or(i32::MAX);
    client
        .execute(
            &format!(
                "INSERT INTO outbox ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (dedupe_key) DO NOTHING"
            ),
            &[
                &message.id,
                &message.kind,
                &message.dedupe_key,
                &message.sealed,
                &attempts,
                &message.next_attempt_at,
                &message.created_at,
                &message.last_error,
                &message.failed,
            ],
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}

impl PgStore {
    /// Runs one `statement` and, when it changed a row, writes `notice` (the security
    /// notice of that change) in the same transaction. Answers the rows changed.
    pub(super) async fn execute_noticed(
        &self,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        notice: Option<&OutboxMessage>,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let Some(notice) = notice else {
            return client.execute(statement, params).await.map_err(unavailable);
        };
        let tx = client.transaction().await.map_err(unavailable)?;
        let n = tx.execute(statement, params).await.map_err(unavailable)?;
        if n > 0 {
            enqueue(&tx, notice).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(n)
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn enqueue(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        for message in messages {
            enqueue(&tx, message).await?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE outbox SET next_attempt_at = $2 WHERE id IN (\
                     SELECT id FROM outbox WHERE NOT failed AND next_attempt_at <= $1 \
                     ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                     RETURNING {COLUMNS}"
                ),
                &[&now, &lease_until, &limit],
            )
            .await
            .map_err(unavailable)?;
        let mut due: Vec<OutboxMessage> = rows.iter().map(message).collect();
        // RETURNING shows the leased time; the caller wants when each was due
        due.sort_by_key(|m| m.created_at);
        Ok(due)
    }

    async fn delivered(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        client
            .execute("DELETE FROM outbox WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn attempt_failed(
        &self,
        id: MessageId,
        attempts: u32,
        retry_at: Option<OffsetDateTime>,
        error: &str,
    ) -> Result<(), StoreError> {
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        let client = self.client().await?;
        client
            .execute(
                "UPDATE outbox SET attempts = $2, next_attempt_at = COALESCE($3, next_attempt_at), \
                 failed = $4, last_error = $5 WHERE id = $1",
                &[&id, &attempts, &retry_at, &retry_at.is_none(), &error],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn failed_messages(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM outbox WHERE failed ORDER BY created_at LIMIT $1"),
                &[&limit],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(message).collect())
    }

    async fn retry_message(&self, id: MessageId, now: OffsetDateTime) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE outbox SET failed = FALSE, next_attempt_at = $2 WHERE id = $1 AND failed",
                &[&id, &now],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE NOT failed), COUNT(*) FILTER (WHERE failed), \
                 MIN(created_at) FILTER (WHERE NOT failed) FROM outbox",
                &[],
            )
            .await
            .map_err(unavailable)?;
        Ok(OutboxStats {
            queued: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            failed: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
            oldest: row.get(2),
        })
    }
}

//! The outbox in SQLite (book § Email): one writer at a time, so a claim is a SELECT and an
//! UPDATE in one write transaction.

use async_trait::async_trait;
use rusqlite::{params, Row, Transaction};
use time::OffsetDateTime;

use super::{from_micros, micros, SqliteStore};
use crate::domain::MessageId;
use crate::store::{OutboxMessage, OutboxStats, OutboxStore, StoreError};

const COLUMNS: &str =
    "id, kind, dedupe_key, sealed, attempts, next_attempt_at, created_at, last_error, failed";

fn message(r: &Row) -> rusqlite::Result<OutboxMessage> {
    let id: String = r.get(0)?;
    Ok(OutboxMessage {
        id: id.parse().map_err(|e: uuid::Error| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })?,
        kind: r.get(1)?,
        dedupe_key: r.get(2)?,
        sealed: r.get(3)?,
        attempts: r.get(4)?,
        next_attempt_at: from_micros(r.get(5)?),
        created_at: from_micros(r.get(6)?),
        last_error: r.get(7)?,
        failed: r.get(8)?,
    })
}

/// Writes `message` in the caller's transaction, unless its dedupe key is held already.
pub(super) fn enqueue(tx: &Transaction, message: &OutboxMessage) -> rusqlite::Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO outbox ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (dedupe_key) DO NOTHING"
        ),
        params![
            message.id.to_string(),
            message.kind,
            message.dedupe_key,
            message.sealed,
            message.attempts,
            micros(message.next_attempt_at),
            micros(message.created_at),
            message.last_error,
            message.failed,
        ],
    )?;
    Ok(())
}

/// Writes `notice`, if any, when the change it announces happened (`changed` rows).
pub(super) fn enqueue_if(
    tx: &Transaction,
    changed: usize,
    notice: Option<&OutboxMessage>,
) -> rusqlite::Result<usize> {
    if let (true, Some(notice)) = (changed > 0, notice) {
        enqueue(tx, notice)?;
    }
    Ok(changed)
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(&self, messages: &[OutboxMessage]) -> Result<(), StoreError> {
        let messages = messages.to_vec();
        self.write(move |tx| messages.iter().try_for_each(|m| enqueue(tx, m)))
            .await
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // the worker asks every second: an idle outbox is a read, not the write lock
        let any_due: bool = self
            .read_only(move |c| {
                c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM outbox WHERE failed = 0 AND next_attempt_at <= ?1)",
                )?
                .query_row([micros(now)], |r| r.get(0))
            })
            .await?;
        if !any_due {
            return Ok(Vec::new());
        }
        self.write(move |tx| {
            let due: Vec<OutboxMessage> = tx
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM outbox WHERE failed = 0 AND next_attempt_at <= ?1 \
                     ORDER BY next_attempt_at LIMIT ?2"
                ))?
                .query_map(params![micros(now), limit], message)?
                .collect::<rusqlite::Result<_>>()?;
            let mut lease =
                tx.prepare_cached("UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1")?;
            for m in &due {
                lease.execute(params![m.id.to_string(), micros(lease_until)])?;
            }
            Ok(due)
        })
        .await
    }

    async fn delivered(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = ids.iter().map(MessageId::to_string).collect();
        self.write(move |tx| {
            ids.iter().try_for_each(|id| {
                tx.execute("DELETE FROM outbox WHERE id = ?1", [id])
                    .map(drop)
            })
        })
        .await
    }

    async fn attempt_failed(
        &self,
        id: MessageId,
        attempts: u32,
        retry_at: Option<OffsetDateTime>,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = error.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE outbox SET attempts = ?2, next_attempt_at = COALESCE(?3, next_attempt_at), \
                 failed = ?4, last_error = ?5 WHERE id = ?1",
                params![
                    id.to_string(),
                    attempts,
                    retry_at.map(micros),
                    retry_at.is_none(),
                    error
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn failed_messages(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read_only(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE failed = 1 ORDER BY created_at LIMIT ?1"
            ))?
            .query_map([limit], message)?
            .collect()
        })
        .await
    }

    async fn retry_message(&self, id: MessageId, now: OffsetDateTime) -> Result<bool, StoreError> {
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE outbox SET failed = 0, next_attempt_at = ?2 WHERE id = ?1 AND failed = 1",
                    params![id.to_string(), micros(now)],
                )
            })
            .await?;
        Ok(n == 1)
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        self.read_only(|c| {
            c.query_row(
                "SELECT COUNT(*) FILTER (WHERE failed = 0), COUNT(*) FILTER (WHERE failed = 1), \
                 MIN(created_at) FILTER (WHERE failed = 0) FROM outbox",
                [],
                |r| {
                    Ok(OutboxStats {
                        queued: r.get::<_, i64>(0)?.try_into().unwrap_or(0),
                        failed: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                        oldest: r.get::<_, Option<i64>>(2)?.map(from_micros),
                    })
                },
            )
        })
        .await
    }
}

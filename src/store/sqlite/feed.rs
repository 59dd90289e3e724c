//! The revocation feed in SQLite (book § Verifying tokens in other services): rows in write order, trimmed by age, a bounded batch
//! each time new ones are written. A cursor is the store's epoch and a row id; one older than what
//! trimming dropped, ahead of the newest row, or of another epoch is expired.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::SqliteStore;
use crate::store::{Cursor, FeedRead, FeedRecord, FeedStore, StoreError, FEED_TRIM_BATCH};

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[async_trait]
impl FeedStore for SqliteStore {
    async fn append(
        &self,
        records: &[FeedRecord],
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let texts = records
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Other(e.into()))?;
        let (at, oldest) = (millis(now), millis(now - keep));
        self.write(move |tx| {
            // the oldest rows first, at most a batch per append: an append never waits on a
            // large trim; what is left goes with the next appends (a late-trimmed event
            // names a token that has expired anyway)
            tx.execute(
                &format!(
                    "DELETE FROM revocation_feed WHERE id IN (SELECT id FROM revocation_feed \
                     WHERE at_ms < ?1 ORDER BY at_ms, id LIMIT {FEED_TRIM_BATCH})"
                ),
                [oldest],
            )?;
            let mut insert =
                tx.prepare("INSERT INTO revocation_feed (at_ms, record) VALUES (?1, ?2)")?;
            for text in texts {
                insert.execute(params![at, text])?;
            }
            Ok(())
        })
        .await
    }

    async fn read(&self, after: Option<Cursor>, limit: usize) -> Result<FeedRead, StoreError> {
        let after_id = after.map_or(0, |c| i64::try_from(c.seq).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit.max(1)).unwrap_or(1000);
        let (rows, first_kept, last, epoch) = self
            .read_only(move |c| {
                let tx = c.transaction()?;
                let epoch = super::epoch::read(&tx)?;
                let last: i64 = tx
                    .query_row(
                        "SELECT seq FROM sqlite_sequence WHERE name = 'revocation_feed'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(0);
                let first: Option<i64> =
                    tx.query_row("SELECT min(id) FROM revocation_feed", [], |r| r.get(0))?;
                let rows = tx
                    .prepare(
                        "SELECT id, at_ms, record FROM revocation_feed WHERE id > ?1 ORDER BY id LIMIT ?2",
                    )?
                    .query_map(params![after_id, limit], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                tx.commit()?;
                Ok((rows, first.unwrap_or(last + 1), last, epoch))
            })
            .await?;
        // every id below the first kept one was written and then dropped; one above the
        // last was never written here (a restored or replaced store)
        let foreign = after.is_some_and(|a| a.epoch != epoch || after_id > last);
        if foreign || (after.is_some() && after_id + 1 < first_kept) {
            return Ok(FeedRead::Expired);
        }
        let cursor = |id: i64, at: i64| Cursor {
            epoch,
            ms: u64::try_from(at).unwrap_or(0),
            seq: u64::try_from(id).unwrap_or(0),
        };
        let mut records = Vec::with_capacity(rows.len());
        for (id, at, text) in rows {
            let record: FeedRecord = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("feed row {id}: {e}")))?;
            records.push((cursor(id, at), record));
        }
        let end = match records.last() {
            Some((c, _)) => *c,
            None => after.unwrap_or(cursor(last, 0)),
        };
        Ok(FeedRead::Page { records, end })
    }
}

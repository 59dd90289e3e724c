//! The revocation feed in Redis (book § Verifying tokens in other services): one stream (with its marker, in one Cluster slot),
//! trimmed by age as it is appended to. A cursor is the store epoch and a stream id, so it
//! is valid on every instance; a cursor older than what trimming dropped, ahead of the
//! newest entry, or of another epoch is expired.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, RedisStore};
use crate::store::{Cursor, FeedRead, FeedRecord, FeedStore, StoreError, FEED_TRIM_BATCH};

static READ: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("feed_read.lua")));
static APPEND: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("feed_append.lua")));

fn cursor_of(epoch: u64, id: &str) -> Result<Cursor, StoreError> {
    id.split_once('-')
        .and_then(|(ms, seq)| {
            Some(Cursor {
                epoch,
                ms: ms.parse().ok()?,
                seq: seq.parse().ok()?,
            })
        })
        .ok_or_else(|| StoreError::Corrupt(format!("stream id {id}")))
}

/// A new epoch: random, never 0 (the epoch of cursors from before epochs).
pub(super) fn new_epoch() -> u64 {
    rand::random::<u64>() | 1
}

impl RedisStore {
    /// The stream, and the newest id trimming dropped: one slot (the hash tag).
    fn feed_keys(&self) -> [String; 2] {
        [
            self.key(&["{revocations}", "stream"]),
            self.key(&["{revocations}", "dropped"]),
        ]
    }

    /// The store epoch that feed cursors carry (in the feed's slot).
    pub(super) fn epoch_key(&self) -> String {
        self.key(&["{revocations}", "epoch"])
    }
}

type Entry = (String, Vec<(String, String)>);

#[async_trait]
impl FeedStore for RedisStore {
    async fn append(
        &self,
        records: &[FeedRecord],
        _now: OffsetDateTime,
        keep: Duration,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // trimmed by Redis's clock, not this instance's (see feed_append.lua)
        let [stream, dropped] = self.feed_keys();
        let mut append = APPEND.key(stream);
        append.key(dropped);
        append.arg(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX));
        append.arg(FEED_TRIM_BATCH);
        for record in records {
            let text = serde_json::to_string(record).map_err(|e| StoreError::Other(e.into()))?;
            append.arg(text);
        }
        let mut conn = self.connection().await;
        append
            .invoke_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn read(&self, after: Option<Cursor>, limit: usize) -> Result<FeedRead, StoreError> {
        let from = after
            .map(|c| format!("{}-{}", c.ms, c.seq))
            .unwrap_or_default();
        let mut conn = self.connection().await;
        let [stream, dropped] = self.feed_keys();
        let (entries, last, dropped, epoch): (Vec<Entry>, String, String, u64) = READ
            .key(stream)
            .key(dropped)
            .key(self.epoch_key())
            .arg(from)
            .arg(limit.max(1))
            .arg(new_epoch())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let last = cursor_of(epoch, &last)?;
        let dropped = cursor_of(epoch, &dropped).unwrap_or_default();
        let expired = after.is_some_and(|a| {
            a.epoch != epoch || a.position() > last.position() || a.position() < dropped.position()
        });
        if expired {
            return Ok(FeedRead::Expired);
        }
        let mut records = Vec::with_capacity(entries.len());
        for (id, fields) in entries {
            let text = fields
                .into_iter()
                .find(|(name, _)| name == "r")
                .map(|(_, value)| value)
                .ok_or_else(|| StoreError::Corrupt(format!("feed entry {id}")))?;
            let record: FeedRecord = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("feed entry {id}: {e}")))?;
            records.push((cursor_of(epoch, &id)?, record));
        }
        let end = match records.last() {
            Some((cursor, _)) => *cursor,
            None => after.unwrap_or(last),
        };
        Ok(FeedRead::Page { records, end })
    }
}

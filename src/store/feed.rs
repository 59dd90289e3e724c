//! The revocation feed (book § Verifying tokens in other services): what an offline verifier must refuse although the
//! signature still verifies, in order, with a position (cursor) valid on every instance.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;

/// The most of its oldest expired events one append drops, on every backend: an append
/// never stalls the store on a large trim (what is left goes with the next appends).
pub const FEED_TRIM_BATCH: usize = 1000;

/// One event of the feed as stored. Times are Unix seconds. (`http::revocation_feed` owns
/// the form verifiers read; the stored encoding must stay readable across releases.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Revocation {
    /// One access token revoked (RFC 7009, or presented at logout).
    Jti { jti: String, exp: i64 },
    /// A session (refresh family) ended; `exp`: its last access token's expiry at the latest.
    Session { sid: String, exp: i64 },
    /// Every token of the user issued before `not_before` is void.
    User { sub: String, not_before: i64 },
    /// An emergency key revocation: tokens signed with `kid` are void.
    Key { kid: String },
    /// A client was deleted: every token issued to it before `not_before` is void.
    Client { client_id: String, not_before: i64 },
}

/// An event as stored: with, for token and session events, whose tokens they concern (the
/// feed shows them only to clients that may introspect those tokens). The owning client is
/// stored as `owner` (a `client` event has a `client_id` of its own); records written
/// before that named it `client_id`, and are read as such.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedRecord {
    #[serde(flatten)]
    pub event: Revocation,
    #[serde(rename = "owner", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
}

impl<'de> Deserialize<'de> for FeedRecord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_json::Value;
        let mut map = serde_json::Map::<String, Value>::deserialize(d)?;
        let aud = match map.remove("aud") {
            Some(v) => serde_json::from_value(v).map_err(D::Error::custom)?,
            None => Vec::new(),
        };
        let is_client_event = map.get("type").and_then(Value::as_str) == Some("client");
        let owner = match map.remove("owner") {
            Some(v) => Some(v),
            None if !is_client_event => map.remove("client_id"),
            None => None,
        };
        let client_id = match owner {
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(D::Error::custom("owner must be a string")),
            None => None,
        };
        let event = serde_json::from_value(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(FeedRecord {
            event,
            client_id,
            aud,
        })
    }
}

impl FeedRecord {
    /// An event every confidential client sees.
    pub fn public(event: Revocation) -> Self {
        FeedRecord {
            event,
            client_id: None,
            aud: Vec::new(),
        }
    }
}

/// A position in the feed: the store epoch it belongs to, the stored time of an event
/// (milliseconds) and its sequence. The epoch is new for every new store, import and
/// restored backup, so a cursor from before one of them is refused rather than read on
/// from a position that now names other events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub epoch: u64,
    pub ms: u64,
    pub seq: u64,
}

impl Cursor {
    /// The opaque text verifiers keep.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{:x}.{}-{}", self.epoch, self.ms, self.seq))
    }

    /// `None` for anything `encode` did not write. A cursor written before cursors carried
    /// an epoch reads as epoch 0, which no store has: it is refused as from another epoch.
    pub fn decode(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 96 {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (epoch, position) = match raw.split_once('.') {
            Some((epoch, position)) => {
                let hex = !epoch.is_empty()
                    && epoch.len() <= 16
                    && epoch.bytes().all(|b| b.is_ascii_hexdigit());
                (hex.then(|| u64::from_str_radix(epoch, 16).ok())??, position)
            }
            None => (0, raw.as_str()),
        };
        let (ms, seq) = position.split_once('-')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Cursor {
            epoch,
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The position alone, for comparing places within one epoch.
    pub fn position(&self) -> (u64, u64) {
        (self.ms, self.seq)
    }
}

/// What one read of the feed found.
#[derive(Debug)]
pub enum FeedRead {
    /// Up to the asked number of records after the cursor, oldest first, and the position
    /// to read on from (the last record's, or where the feed ends when there is none).
    Page {
        records: Vec<(Cursor, FeedRecord)>,
        end: Cursor,
    },
    /// Events after the cursor were dropped (older than the feed keeps), or the cursor is
    /// from another store epoch or ahead of the newest event (a restore, an import, a new
    /// store): start over.
    Expired,
}

#[async_trait]
pub trait FeedStore: Send + Sync {
    /// Appends `records` in order, as one write, and drops events older than `keep`.
    async fn append(
        &self,
        records: &[FeedRecord],
        now: OffsetDateTime,
        keep: Duration,
    ) -> Result<(), StoreError>;
    /// Up to `limit` records after `after` (from the oldest kept without it). Every cursor
    /// it returns carries the store's epoch; `Expired` for a cursor of another epoch, one
    /// ahead of the newest event, or one older than what was dropped.
    async fn read(&self, after: Option<Cursor>, limit: usize) -> Result<FeedRead, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_nothing_else_reads_as_one() {
        let c = Cursor {
            epoch: 0x1234_abcd_ef01_2345,
            ms: 1_764_000_000_123,
            seq: 7,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        // a cursor from before epochs: epoch 0, which no store has
        assert_eq!(
            Cursor::decode("MTIzLTQ"),
            Some(Cursor {
                epoch: 0,
                ms: 123,
                seq: 4
            })
        );
        for bad in [
            "",
            "abc",
            "MTIz",
            "LTE",
            "MS0",
            "MS0tMQ",
            "!!",
            "LjEtMg",
            "eHl6LjEtMg",
            "MTIzNDU2Nzg5MDEyMzQ1NjcuMS0y",
            &"A".repeat(80),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_record_keeps_its_audience_apart_from_the_event() {
        let record = FeedRecord {
            event: Revocation::Jti {
                jti: "j1".into(),
                exp: 10,
            },
            client_id: Some("c".into()),
            aud: vec!["api".into()],
        };
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<FeedRecord>(&text).unwrap(), record);
        // as records were stored before `owner`
        let old = r#"{"type":"jti","jti":"j1","exp":10,"client_id":"c","aud":["api"]}"#;
        assert_eq!(serde_json::from_str::<FeedRecord>(old).unwrap(), record);
        // a client event keeps its own client_id, and has no owner
        let client = FeedRecord::public(Revocation::Client {
            client_id: "gone".into(),
            not_before: 5,
        });
        let text = serde_json::to_string(&client).unwrap();
        assert_eq!(
            text,
            r#"{"type":"client","client_id":"gone","not_before":5}"#
        );
        assert_eq!(serde_json::from_str::<FeedRecord>(&text).unwrap(), client);
        assert_eq!(
            serde_json::to_value(&record.event).unwrap(),
            serde_json::json!({"type": "jti", "jti": "j1", "exp": 10})
        );
    }
}

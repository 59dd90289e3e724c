//! The revocation feed (SPEC S15): what an offline verifier must refuse although the
//! signature still verifies, in order, with a position (cursor) valid on every instance.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;

/// One event of the feed as verifiers read it. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
}

/// An event as stored: with, for token and session events, whose tokens they concern (the
/// feed shows them only to clients that may introspect those tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRecord {
    #[serde(flatten)]
    pub event: Revocation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
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

/// A position in the feed: the stored time of an event (milliseconds) and its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub ms: u64,
    pub seq: u64,
}

impl Cursor {
    /// The opaque text verifiers keep.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}-{}", self.ms, self.seq))
    }

    /// `None` for anything `encode` did not write.
    pub fn decode(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 64 {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (ms, seq) = raw.split_once('-')?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Cursor {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
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
    /// Events after the cursor were dropped (older than the feed keeps): start over.
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
    /// Up to `limit` records after `after` (from the oldest kept without it).
    async fn read(&self, after: Option<Cursor>, limit: usize) -> Result<FeedRead, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_nothing_else_reads_as_one() {
        let c = Cursor {
            ms: 1_764_000_000_123,
            seq: 7,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in [
            "",
            "abc",
            "MTIz",
            "LTE",
            "MS0",
            "MS0tMQ",
            "!!",
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
        assert_eq!(
            serde_json::to_value(&record.event).unwrap(),
            serde_json::json!({"type": "jti", "jti": "j1", "exp": 10})
        );
    }
}

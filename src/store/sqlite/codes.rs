//! Authorization codes in SQLite (RFC 6749 §4.1.2, embedded mode): 60 s, single use, a spent code
//! remembered for `SPENT_CODE_MEMORY` so that a replay still revokes what it issued, in
//! the store (not an evictable cache), so neither a flood of codes nor a restart forgets
//! one. Taking a code is one `BEGIN IMMEDIATE` transaction: exactly one caller finds it
//! fresh.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{micros, SqliteStore};
use crate::domain::FamilyId;
use crate::store::{AuthCode, CodeStore, CodeTake, StoreError, SPENT_CODE_MEMORY};

/// `spent`: not used yet, used once, presented again since.
const FRESH: i64 = 0;
const SPENT: i64 = 1;
const REPLAYED: i64 = 2;

#[async_trait]
impl CodeStore for SqliteStore {
    async fn put_code(
        &self,
        digest: &[u8; 32],
        code: &AuthCode,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(code).map_err(|e| StoreError::Other(e.into()))?;
        let expires = micros(now + ttl.max(Duration::from_secs(1)));
        let digest = digest.to_vec();
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO authorization_codes (digest, code, spent, family_id, expires_at) VALUES (?1, ?2, 0, NULL, ?3)",
                params![digest, text, expires],
            )
            .map(drop)
        })
        .await
    }

    async fn take_code(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<CodeTake, StoreError> {
        let key = digest.to_vec();
        let found = self
            .write(move |tx| {
                let at = now;
                let row: Option<(Option<String>, i64, Option<String>, i64)> = tx
                    .query_row(
                        "SELECT code, spent, family_id, expires_at FROM authorization_codes WHERE digest = ?1",
                        [&key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                let Some((code, spent, family, expires)) = row else {
                    return Ok(None);
                };
                if expires <= micros(at) {
                    tx.execute("DELETE FROM authorization_codes WHERE digest = ?1", [&key])?;
                    return Ok(None);
                }
                if spent != FRESH {
                    // a replay: from now on no family may be recorded for it
                    tx.execute(
                        "UPDATE authorization_codes SET spent = ?2 WHERE digest = ?1",
                        params![key, REPLAYED],
                    )?;
                    return Ok(Some(Err(family)));
                }
                tx.execute(
                    "UPDATE authorization_codes SET code = NULL, spent = ?3, expires_at = ?2 WHERE digest = ?1",
                    params![key, micros(at + SPENT_CODE_MEMORY), SPENT],
                )?;
                Ok(Some(Ok(code.unwrap_or_default())))
            })
            .await?;
        Ok(match found {
            None => CodeTake::Unknown,
            Some(Err(family)) => CodeTake::Replayed(family.map(Into::into)),
            Some(Ok(text)) => CodeTake::Fresh(
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("authorization code: {e}")))?,
            ),
        })
    }

    async fn record_code_family(
        &self,
        digest: &[u8; 32],
        family_id: &FamilyId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (key, family) = (digest.to_vec(), family_id.to_owned());
        self.write(move |tx| {
            // only a code spent once and not replayed since (a replay ends the family
            // itself, see CodeStore)
            let changed = tx.execute(
                "UPDATE authorization_codes SET family_id = ?2 WHERE digest = ?1 AND spent = ?4 AND expires_at > ?3",
                params![key, family, micros(now), SPENT],
            )?;
            Ok(changed == 1)
        })
        .await
    }
}

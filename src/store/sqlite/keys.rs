//! Signing keys in SQLite (book § Signing keys). Every change is one `BEGIN IMMEDIATE` transaction:
//! SQLite's single writer serializes them as Postgres's advisory lock does, across the
//! server and CLI processes sharing the file.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde_json::Value;
use time::OffsetDateTime;

use super::{from_micros, micros, SqliteStore};
use crate::crypto::{KeyState, SigningAlg};
use crate::store::{KeyImport, KeyRevocation, KeyStore, NewSigningKey, SigningKeyRow, StoreError};

const SELECT: &str = "SELECT kid, alg, state, private_sealed, public_jwk, created_at, activated_at, retiring_at, revoked_at FROM signing_keys";

/// A key row as read (strings and integers), converted outside the blocking call.
type RawKey = (
    String,
    String,
    String,
    Vec<u8>,
    String,
    i64,
    [Option<i64>; 3],
);

fn read(row: &Row) -> rusqlite::Result<RawKey> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        [row.get(6)?, row.get(7)?, row.get(8)?],
    ))
}

fn to_key(
    (kid, alg, state, private_sealed, jwk, created, times): RawKey,
) -> Result<SigningKeyRow, StoreError> {
    let public_jwk = match serde_json::from_str(&jwk) {
        Ok(Value::Object(map)) => map,
        _ => return Err(StoreError::Corrupt(format!("key {kid}: public_jwk"))),
    };
    Ok(SigningKeyRow {
        alg: alg
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("unknown alg {alg}")))?,
        state: state
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("unknown key state {state}")))?,
        kid: kid.into(),
        private_sealed,
        public_jwk,
        created_at: from_micros(created),
        activated_at: times[0].map(from_micros),
        retiring_at: times[1].map(from_micros),
        revoked_at: times[2].map(from_micros),
    })
}

fn insert(
    tx: &Transaction,
    key: &NewSigningKey,
    state: KeyState,
    now: i64,
) -> rusqlite::Result<()> {
    let activated = (state == KeyState::Active).then_some(now);
    let jwk = Value::Object(key.public_jwk.clone()).to_string();
    tx.execute(
        "INSERT INTO signing_keys (kid, alg, state, private_sealed, public_jwk, created_at, activated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![key.kid, key.alg.as_str(), state.as_str(), key.private_sealed, jwk, now, activated],
    )?;
    Ok(())
}

fn kid_in_state(
    tx: &Transaction,
    alg: SigningAlg,
    state: KeyState,
) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT kid FROM signing_keys WHERE alg = ?1 AND state = ?2",
        params![alg.as_str(), state.as_str()],
        |r| r.get(0),
    )
    .optional()
}

fn promote(tx: &Transaction, kid: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE signing_keys SET state = 'active', activated_at = ?2 WHERE kid = ?1",
        params![kid, now],
    )?;
    Ok(())
}

fn bump_version(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute("UPDATE keyring_version SET version = version + 1", [])?;
    Ok(())
}

/// A row violating an invariant, raised inside a transaction (rolls it back).
fn corrupt(message: String) -> rusqlite::Error {
    super::refusal(message)
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let rows = self
            .run(|c| {
                let mut stmt = c.prepare(&format!(
                    "{SELECT} WHERE state <> 'retired' ORDER BY created_at, kid"
                ))?;
                let rows = stmt.query_map([], read)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(to_key).collect()
    }

    async fn fill_missing_keys(
        &self,
        alg: SigningAlg,
        active: NewSigningKey,
        next: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = micros(now);
        self.write(move |tx| {
            let mut inserted = false;
            if kid_in_state(tx, alg, KeyState::Active)?.is_none() {
                insert(tx, &active, KeyState::Active, now)?;
                inserted = true;
            }
            if kid_in_state(tx, alg, KeyState::Next)?.is_none() {
                insert(tx, &next, KeyState::Next, now)?;
                inserted = true;
            }
            if inserted {
                bump_version(tx)?;
            }
            Ok(inserted)
        })
        .await
    }

    async fn rotate(
        &self,
        alg: SigningAlg,
        new_next: NewSigningKey,
        due_before: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let (now, due) = (micros(now), due_before.map(micros));
        self.write(move |tx| {
            if let Some(due) = due {
                let activated: Option<Option<i64>> = tx
                    .query_row(
                        "SELECT activated_at FROM signing_keys WHERE alg = ?1 AND state = 'active'",
                        [alg.as_str()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if activated.flatten().is_some_and(|at| at > due) {
                    return Ok(None);
                }
            }
            let next = kid_in_state(tx, alg, KeyState::Next)?
                .ok_or_else(|| corrupt(format!("no next key for {alg}")))?;
            tx.execute(
                "UPDATE signing_keys SET state = 'retiring', retiring_at = ?2 WHERE alg = ?1 AND state = 'active'",
                params![alg.as_str(), now],
            )?;
            promote(tx, &next, now)?;
            insert(tx, &new_next, KeyState::Next, now)?;
            bump_version(tx)?;
            Ok(Some(next))
        })
        .await
    }

    async fn revoke(
        &self,
        kid: &crate::domain::Kid,
        replacement: Option<NewSigningKey>,
        now: OffsetDateTime,
    ) -> Result<KeyRevocation, StoreError> {
        let (kid, now) = (kid.to_owned(), micros(now));
        // read and change in one transaction, so the state acted on is the state changed
        self.write(move |tx| {
            let found: Option<(String, String, Option<i64>)> = tx
                .query_row(
                    "SELECT alg, state, revoked_at FROM signing_keys WHERE kid = ?1",
                    [&kid],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((alg, state, revoked_at)) = found else {
                return Ok(KeyRevocation::NotFound);
            };
            if revoked_at.is_some() {
                return Ok(KeyRevocation::AlreadyRevoked);
            }
            let alg: SigningAlg = alg
                .parse()
                .map_err(|()| corrupt(format!("key {kid}: unknown alg {alg}")))?;
            let was: KeyState = state
                .parse()
                .map_err(|()| corrupt(format!("key {kid}: unknown state {state}")))?;
            tx.execute(
                "UPDATE signing_keys SET state = 'retired', retired_at = ?2, revoked_at = ?2 WHERE kid = ?1",
                params![kid, now],
            )?;
            let mut promoted = None;
            if was == KeyState::Active {
                if let Some(next) = kid_in_state(tx, alg, KeyState::Next)? {
                    promote(tx, &next, now)?;
                    promoted = Some(next);
                }
            }
            let needs_next = matches!(was, KeyState::Active | KeyState::Next);
            if let Some(replacement) = replacement.filter(|r| needs_next && r.alg == alg) {
                insert(tx, &replacement, KeyState::Next, now)?;
            }
            bump_version(tx)?;
            Ok(KeyRevocation::Revoked { was, promoted })
        })
        .await
    }

    async fn import_next(
        &self,
        key: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<KeyImport, StoreError> {
        let now = micros(now);
        self.write(move |tx| {
            let known = tx
                .query_row("SELECT 1 FROM signing_keys WHERE kid = ?1", [&key.kid], |_| Ok(()))
                .optional()?;
            if known.is_some() {
                return Ok(KeyImport::AlreadyKnown);
            }
            let replaced = kid_in_state(tx, key.alg, KeyState::Next)?;
            tx.execute(
                "UPDATE signing_keys SET state = 'retired', retired_at = ?2 WHERE alg = ?1 AND state = 'next'",
                params![key.alg.as_str(), now],
            )?;
            insert(tx, &key, KeyState::Next, now)?;
            bump_version(tx)?;
            Ok(KeyImport::Imported { replaced })
        })
        .await
    }

    async fn version(&self) -> Result<i64, StoreError> {
        self.run(|c| c.query_row("SELECT version FROM keyring_version", [], |r| r.get(0)))
            .await
    }
}

//! Passkeys in SQLite (WebAuthn Level 3, book § Passkeys).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{from_micros, micros, user_id_of, SqliteStore};
use crate::domain::{PasskeyId, UserId};
use crate::store::{OutboxMessage, PasskeyStore, PasskeyUse, StoreError, StoredPasskey};

const COLUMNS: &str =
    "id, user_id, credential_id, name, credential, counter, backed_up, created_at, last_used_at";

fn passkey(r: &Row) -> rusqlite::Result<StoredPasskey> {
    let corrupt = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let id: String = r.get(0)?;
    let user: String = r.get(1)?;
    let credential: String = r.get(4)?;
    Ok(StoredPasskey {
        id: id
            .parse()
            .map_err(|e: uuid::Error| corrupt(0, e.to_string()))?,
        user_id: user_id_of(&user).map_err(|e| corrupt(1, e.to_string()))?,
        credential_id: r.get(2)?,
        name: r.get(3)?,
        credential: serde_json::from_str(&credential).map_err(|e| corrupt(4, e.to_string()))?,
        counter: r.get(5)?,
        backed_up: r.get(6)?,
        created_at: from_micros(r.get(7)?),
        last_used_at: r.get::<_, Option<i64>>(8)?.map(from_micros),
    })
}

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn add_passkey(
        &self,
        passkey: &StoredPasskey,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        let (p, notice) = (passkey.clone(), notice.cloned());
        let n = self
            .write(move |tx| {
                let n = tx.execute(
                    &format!(
                        "INSERT INTO passkeys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                         ON CONFLICT (credential_id) DO NOTHING"
                    ),
                    params![
                        p.id.to_string(),
                        p.user_id.to_string(),
                        p.credential_id,
                        p.name,
                        p.credential.to_string(),
                        p.counter,
                        p.backed_up,
                        micros(p.created_at),
                        p.last_used_at.map(micros),
                    ],
                )?;
                super::outbox::enqueue_if(tx, n, notice.as_ref())
            })
            .await?;
        Ok(n == 1)
    }

    async fn user_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        self.run(move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {COLUMNS} FROM passkeys WHERE user_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = statement.query_map([user.to_string()], passkey)?;
            rows.collect()
        })
        .await
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let credential_id = credential_id.to_vec();
        self.run(move |c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = ?1"),
                [credential_id],
                passkey,
            )
            .optional()
        })
        .await
    }

    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        used: &PasskeyUse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let used = used.clone();
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE passkeys SET counter = ?3, backed_up = ?4, credential = ?5, last_used_at = ?6 \
                     WHERE id = ?1 AND counter = ?2",
                    params![
                        id.to_string(),
                        used.seen_counter,
                        used.counter,
                        used.backed_up,
                        used.credential.to_string(),
                        micros(now),
                    ],
                )
            })
            .await?;
        Ok(n == 1)
    }

    async fn rename_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let name = name.to_owned();
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE passkeys SET name = ?3 WHERE id = ?1 AND user_id = ?2",
                    params![id.to_string(), user.to_string(), name],
                )
            })
            .await?;
        Ok(n == 1)
    }

    async fn delete_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        let notice = notice.cloned();
        let n = self
            .write(move |tx| {
                let n = tx.execute(
                    "DELETE FROM passkeys WHERE id = ?1 AND user_id = ?2",
                    params![id.to_string(), user.to_string()],
                )?;
                super::outbox::enqueue_if(tx, n, notice.as_ref())
            })
            .await?;
        Ok(n == 1)
    }
}

//! Passkeys in PostgreSQL (WebAuthn Level 3, book § Passkeys).

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{unavailable, PgStore};
use crate::domain::{PasskeyId, UserId};
use crate::store::{OutboxMessage, PasskeyStore, PasskeyUse, StoreError, StoredPasskey};

const COLUMNS: &str =
    "id, user_id, credential_id, name, credential, counter, backed_up, created_at, last_used_at";

fn passkey(r: &Row) -> Result<StoredPasskey, StoreError> {
    let counter: i64 = r.get(5);
    Ok(StoredPasskey {
        id: r.get(0),
        user_id: r.get(1),
        credential_id: r.get(2),
        name: r.get(3),
        credential: r.get(4),
        counter: u32::try_from(counter)
            .map_err(|_| StoreError::Corrupt(format!("passkey counter {counter}")))?,
        backed_up: r.get(6),
        created_at: r.get(7),
        last_used_at: r.get(8),
    })
}

#[async_trait]
impl PasskeyStore for PgStore {
    async fn add_passkey(
        &self,
        p: &StoredPasskey,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        let counter = i64::from(p.counter);
        let n = self
            .execute_noticed(
                &format!(
                    "INSERT INTO passkeys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (credential_id) DO NOTHING"
                ),
                &[
                    &p.id,
                    &p.user_id,
                    &p.credential_id,
                    &p.name,
                    &p.credential,
                    &counter,
                    &p.backed_up,
                    &p.created_at,
                    &p.last_used_at,
                ],
                notice,
            )
            .await?;
        Ok(n == 1)
    }

    async fn user_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
                ),
                &[&user],
            )
            .await
            .map_err(unavailable)?;
        rows.iter().map(passkey).collect()
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1"),
                &[&credential_id],
            )
            .await
            .map_err(unavailable)?;
        row.as_ref().map(passkey).transpose()
    }

    async fn record_passkey_use(
        &self,
        id: PasskeyId,
        used: &PasskeyUse,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE passkeys SET counter = $3, backed_up = $4, credential = $5, last_used_at = $6 \
                 WHERE id = $1 AND counter = $2",
                &[
                    &id,
                    &i64::from(used.seen_counter),
                    &i64::from(used.counter),
                    &used.backed_up,
                    &used.credential,
                    &now,
                ],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn rename_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2",
                &[&id, &user, &name],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn delete_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        let n = self
            .execute_noticed(
                "DELETE FROM passkeys WHERE id = $1 AND user_id = $2",
                &[&id, &user],
                notice,
            )
            .await?;
        Ok(n == 1)
    }
}

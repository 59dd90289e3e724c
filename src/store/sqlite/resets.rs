//! Password reset tokens in SQLite (book § Configuration): only digests, single use, short-lived.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{micros, user_id_of, SqliteStore};
use crate::domain::UserId;
use crate::store::{OutboxMessage, ResetStore, ResetUse, StoreError};

#[async_trait]
impl ResetStore for SqliteStore {
    async fn create_reset(
        &self,
        token_sha256: [u8; 32],
        user: UserId,
        expires_at: OffsetDateTime,
        message: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let message = message.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO password_resets (token_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_sha256.to_vec(), user.to_string(), micros(now), micros(expires_at)],
            )?;
            super::outbox::enqueue(tx, &message)
        })
        .await?;
        Ok(())
    }

    async fn use_reset(
        &self,
        token_sha256: [u8; 32],
        how: ResetUse,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let statement = match how {
            ResetUse::Find => "SELECT user_id FROM password_resets WHERE token_sha256 = ?1 AND used_at IS NULL AND expires_at > ?2",
            ResetUse::Consume => "UPDATE password_resets SET used_at = ?2 WHERE token_sha256 = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING user_id",
        };
        // one statement in autocommit: a read takes no write lock, and an UPDATE alone is
        // atomic, so two uses of one token cannot both succeed
        let user: Option<String> = self
            .run(move |tx| {
                tx.query_row(
                    statement,
                    params![token_sha256.to_vec(), micros(now)],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        user.as_deref().map(user_id_of).transpose()
    }

    async fn revoke_user_resets(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE password_resets SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
                    params![user.to_string(), micros(now)],
                )
            })
            .await?;
        Ok(n as u64)
    }
}

//! Password reset tokens in Postgres (book § Configuration), and the sweep of them and of email
//! links: an expired link is deleted by the background loop, a batch at a time (the indexes
//! of V7 and V10 find them).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, PgStore};
use crate::domain::UserId;
use crate::store::{Expiry, OutboxMessage, ResetStore, ResetUse, StoreError, Swept, SWEEP_BATCH};

#[async_trait]
impl ResetStore for PgStore {
    async fn create_reset(
        &self,
        token_sha256: [u8; 32],
        user: UserId,
        expires_at: OffsetDateTime,
        message: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        tx.execute(
            "INSERT INTO password_resets (token_sha256, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&token_sha256.to_vec(), &user, &now, &expires_at],
        )
        .await
        .map_err(unavailable)?;
        super::outbox::enqueue(&tx, message).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn use_reset(
        &self,
        token_sha256: [u8; 32],
        how: ResetUse,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        // one statement: two concurrent uses cannot both succeed
        let statement = match how {
            ResetUse::Find => "SELECT user_id FROM password_resets WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2",
            ResetUse::Consume => "UPDATE password_resets SET used_at = $2 WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
        };
        let client = self.client().await?;
        let row = client
            .query_opt(statement, &[&token_sha256.to_vec(), &now])
            .await
            .map_err(unavailable)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn revoke_user_resets(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
                &[&user, &now],
            )
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl Expiry for PgStore {
    async fn sweep(&self, now: OffsetDateTime) -> Result<Swept, StoreError> {
        let client = self.client().await?;
        let mut swept = Swept::default();
        for table in ["password_resets", "email_links"] {
            let rows = client
                .execute(
                    &format!(
                        "DELETE FROM {table} WHERE token_sha256 IN \
                         (SELECT token_sha256 FROM {table} WHERE expires_at <= $1 LIMIT $2)"
                    ),
                    &[&now, &(SWEEP_BATCH as i64)],
                )
                .await
                .map_err(unavailable)?;
            swept.rows += rows;
            swept.more |= rows == SWEEP_BATCH as u64;
        }
        Ok(swept)
    }
}

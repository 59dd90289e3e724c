//! TOTP secrets and recovery codes in Postgres (RFC 6238).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, PgStore};
use crate::domain::UserId;
use crate::store::{MfaStore, OutboxMessage, StoreError, TotpRow};

#[async_trait]
impl MfaStore for PgStore {
    async fn totp(&self, user: UserId) -> Result<Option<TotpRow>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT secret_sealed, confirmed_at IS NOT NULL, last_step FROM user_totp WHERE user_id = $1",
                &[&user],
            )
            .await
            .map_err(unavailable)?;
        Ok(row.map(|r| TotpRow {
            secret_sealed: r.get(0),
            confirmed: r.get(1),
            last_step: r.get(2),
        }))
    }

    async fn set_pending_totp(
        &self,
        user: UserId,
        secret_sealed: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "INSERT INTO user_totp (user_id, secret_sealed, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, last_step = -1, created_at = EXCLUDED.created_at \
                 WHERE user_totp.confirmed_at IS NULL",
                &[&user, &secret_sealed, &now],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn use_step(
        &self,
        user: UserId,
        step: i64,
        confirm: bool,
        now: OffsetDateTime,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        // one statement: two requests with the same code cannot both pass
        let n = self
            .execute_noticed(
                "UPDATE user_totp SET last_step = $2, confirmed_at = CASE WHEN $3 THEN COALESCE(confirmed_at, $4) ELSE confirmed_at END \
                 WHERE user_id = $1 AND last_step < $2 AND ($3 OR confirmed_at IS NOT NULL)",
                &[&user, &step, &confirm, &now],
                notice,
            )
            .await?;
        Ok(n == 1)
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes_sha256: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        tx.execute("DELETE FROM recovery_codes WHERE user_id = $1", &[&user])
            .await
            .map_err(unavailable)?;
        for code in codes_sha256 {
            tx.execute(
                "INSERT INTO recovery_codes (user_id, code_sha256) VALUES ($1, $2)",
                &[&user, &code.to_vec()],
            )
            .await
            .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        code_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_sha256 = $2 AND used_at IS NULL",
                &[&user, &code_sha256.to_vec(), &now],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn delete_totp(
        &self,
        user: UserId,
        notice: Option<&OutboxMessage>,
    ) -> Result<(), StoreError> {
        // one statement: the codes go with the secret they belong to
        self.execute_noticed(
            "WITH codes AS (DELETE FROM recovery_codes WHERE user_id = $1) \
             DELETE FROM user_totp WHERE user_id = $1",
            &[&user],
            notice,
        )
        .await?;
        Ok(())
    }
}

//! TOTP enrolments and recovery codes in SQLite (RFC 6238).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{micros, SqliteStore};
use crate::domain::UserId;
use crate::store::{MfaStore, OutboxMessage, StoreError, TotpRow};

#[async_trait]
impl MfaStore for SqliteStore {
    async fn totp(&self, user: UserId) -> Result<Option<TotpRow>, StoreError> {
        self.run(move |c| {
            c.query_row(
                "SELECT secret_sealed, confirmed_at IS NOT NULL, last_step FROM user_totp WHERE user_id = ?1",
                [user.to_string()],
                |r| {
                    Ok(TotpRow {
                        secret_sealed: r.get(0)?,
                        confirmed: r.get(1)?,
                        last_step: r.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn set_pending_totp(
        &self,
        user: UserId,
        secret_sealed: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sealed = secret_sealed.to_vec();
        let n = self
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO user_totp (user_id, secret_sealed, created_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = -1, created_at = excluded.created_at \
                     WHERE user_totp.confirmed_at IS NULL",
                    params![user.to_string(), sealed, micros(now)],
                )
            })
            .await?;
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
        let notice = notice.cloned();
        let n = self
            .write(move |tx| {
                let n = tx.execute(
                    "UPDATE user_totp SET last_step = ?2, confirmed_at = CASE WHEN ?3 THEN COALESCE(confirmed_at, ?4) ELSE confirmed_at END \
                     WHERE user_id = ?1 AND last_step < ?2 AND (?3 OR confirmed_at IS NOT NULL)",
                    params![user.to_string(), step, confirm, micros(now)],
                )?;
                super::outbox::enqueue_if(tx, n, notice.as_ref())
            })
            .await?;
        Ok(n == 1)
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes_sha256: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let codes = codes_sha256.to_vec();
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM recovery_codes WHERE user_id = ?1",
                [user.to_string()],
            )?;
            for code in codes {
                tx.execute(
                    "INSERT INTO recovery_codes (user_id, code_sha256) VALUES (?1, ?2)",
                    params![user.to_string(), code.to_vec()],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        code_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE recovery_codes SET used_at = ?3 WHERE user_id = ?1 AND code_sha256 = ?2 AND used_at IS NULL",
                    params![user.to_string(), code_sha256.to_vec(), micros(now)],
                )
            })
            .await?;
        Ok(n == 1)
    }

    async fn delete_totp(
        &self,
        user: UserId,
        notice: Option<&OutboxMessage>,
    ) -> Result<(), StoreError> {
        let notice = notice.cloned();
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM recovery_codes WHERE user_id = ?1",
                [user.to_string()],
            )?;
            let n = tx.execute(
                "DELETE FROM user_totp WHERE user_id = ?1",
                [user.to_string()],
            )?;
            super::outbox::enqueue_if(tx, n, notice.as_ref())?;
            Ok(())
        })
        .await
    }
}

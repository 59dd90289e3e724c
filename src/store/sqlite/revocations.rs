//! The JTI blocklist and per-user cut-offs in SQLite (RFC 9068, book § Endpoints): persistent, so a restart
//! un-revokes nothing; each row lives as long as a token it could refuse.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{from_micros, micros, micros_after, SqliteStore};
use crate::domain::UserId;
use crate::store::{RevocationStore, StoreError, TokenState};

#[async_trait]
impl RevocationStore for SqliteStore {
    async fn blocklist(
        &self,
        jti: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        let until = micros_after(now, ttl.max(Duration::from_secs(1)));
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO jti_blocklist (jti, expires_at) VALUES (?1, ?2)",
                params![jti, until],
            )
        })
        .await?;
        Ok(())
    }

    async fn set_cutoff(
        &self,
        user: UserId,
        at: OffsetDateTime,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        // the cut-off is set at the moment it takes effect: it lives `ttl` from then
        let until = micros_after(at, ttl.max(Duration::from_secs(1)));
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO user_cutoffs (user_id, cutoff, expires_at) VALUES (?1, ?2, ?3)",
                params![user.to_string(), micros(at), until],
            )
        })
        .await?;
        Ok(())
    }

    async fn token_state(
        &self,
        jti: &str,
        sid: Option<&str>,
        user: Option<UserId>,
        now: OffsetDateTime,
    ) -> Result<TokenState, StoreError> {
        let (jti, sid, user) = (
            jti.to_owned(),
            sid.map(str::to_owned),
            user.map(|u| u.to_string()),
        );
        self.read_only(move |c| {
            let live = micros(now);
            let blocklisted = c
                .query_row(
                    "SELECT 1 FROM jti_blocklist WHERE jti = ?1 AND expires_at > ?2",
                    params![jti, live],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            let session_alive = match &sid {
                None => None,
                Some(sid) => Some(
                    c.query_row(
                        "SELECT 1 FROM refresh_families WHERE id = ?1 AND expires_at > ?2",
                        params![sid, live],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some(),
                ),
            };
            let cutoff = match &user {
                None => None,
                Some(user) => c
                    .query_row(
                        "SELECT cutoff FROM user_cutoffs WHERE user_id = ?1 AND expires_at > ?2",
                        params![user, live],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()?
                    .map(from_micros),
            };
            Ok(TokenState {
                blocklisted,
                session_alive,
                cutoff,
            })
        })
        .await
    }
}

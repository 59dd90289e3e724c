//! Access-token revocation state in Redis (RFC 9068, book § Endpoints): blocklisted `jti`s and per-user
//! cut-offs, each a key that expires when no token it could refuse is still alive.

use async_trait::async_trait;

use super::families::secs;
use super::{unavailable, RedisStore};
use crate::domain::UserId;
use crate::store::{RevocationStore, StoreError, TokenState};

#[async_trait]
impl RevocationStore for RedisStore {
    async fn blocklist(
        &self,
        jti: &str,
        ttl: std::time::Duration,
        _now: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        redis::cmd("SET")
            .arg(self.key(&["bl", jti]))
            .arg(1)
            .arg("EX")
            .arg(secs(ttl).max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn set_cutoff(
        &self,
        user: UserId,
        at: time::OffsetDateTime,
        ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        redis::cmd("SET")
            .arg(self.key(&["cutoff", &user.to_string()]))
            .arg(at.unix_timestamp())
            .arg("EX")
            .arg(secs(ttl).max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn token_state(
        &self,
        jti: &str,
        sid: Option<&str>,
        user: Option<UserId>,
        _now: time::OffsetDateTime,
    ) -> Result<TokenState, StoreError> {
        // three slots: one round trip on a single Redis, three at once on a cluster
        let mut pipe = redis::pipe();
        pipe.exists(self.key(&["bl", jti]));
        pipe.exists(self.family_key(sid.unwrap_or("-")));
        pipe.get(self.key(&[
            "cutoff",
            &user.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
        ]));
        let replies = self.query_spread(&pipe).await?;
        let (blocklisted, alive, cutoff): (bool, bool, Option<i64>) =
            redis::from_redis_value(&redis::Value::Array(replies)).map_err(unavailable)?;
        Ok(TokenState {
            blocklisted,
            session_alive: sid.map(|_| alive),
            cutoff: user
                .and(cutoff)
                .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok()),
        })
    }
}

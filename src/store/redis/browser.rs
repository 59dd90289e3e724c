//! SSO sessions and authorization codes in Redis (book § Sign-in with the authorization-code flow). A session is a JSON value
//! under a `{id}` hash tag with the set of families started under it (one Cluster slot),
//! indexed per user by expiry; a code is a hash by its SHA-256 whose state the scripts move from
//! fresh to spent to replayed.

use std::sync::LazyLock;
use std::time::Duration;

use super::{unavailable, RedisStore};
use crate::domain::FamilyId;
use crate::domain::UserId;
use crate::store::{
    AuthCode, CodeStore, CodeTake, SsoSession, SsoStore, StoreError, SPENT_CODE_MEMORY,
};
use async_trait::async_trait;
use time::OffsetDateTime;

static TAKE_CODE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("take_code.lua")));
static RECORD_CODE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("record_code.lua")));
static SSO_FAMILY: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("sso_family.lua")));
static END_SSO: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("end_sso.lua")));

fn ms(span: Duration) -> i64 {
    i64::try_from(span.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl RedisStore {
    fn sso_key(&self, id: &str) -> String {
        self.key(&["sso", &format!("{{{id}}}")])
    }

    fn sso_families_key(&self, id: &str) -> String {
        self.key(&["sso", &format!("{{{id}}}"), "families"])
    }

    fn user_sso_key(&self, user: UserId) -> String {
        self.key(&["user", &format!("{{{user}}}"), "sso"])
    }

    fn code_key(&self, digest: &[u8; 32]) -> String {
        self.key(&["code", &hex::encode(digest)])
    }
}

fn corrupt(id: &str) -> StoreError {
    StoreError::Corrupt(format!("sso session {id}: unreadable"))
}

#[async_trait]
impl SsoStore for RedisStore {
    async fn create_sso(&self, session: &SsoSession) -> Result<(), StoreError> {
        let key = self.sso_key(&session.id);
        let index = self.user_sso_key(session.user_id);
        let value = serde_json::to_string(session).map_err(|e| StoreError::Other(e.into()))?;
        let expires = session.expires_at.unix_timestamp();
        // two slots, not atomic: the index is advisory (dead members are skipped when listed)
        let mut pipe = redis::pipe();
        pipe.set(&key, value)
            .ignore()
            .expire_at(&key, expires)
            .ignore()
            // members whose sessions ended before this one began (the caller's now)
            .zrembyscore(&index, "-inf", session.created_at.unix_timestamp())
            .ignore()
            .zadd(&index, &session.id, expires)
            .ignore()
            // the index lives as long as its longest session (Redis 7: NX sets a first
            // expiry, GT only ever lengthens it)
            .cmd("EXPIREAT")
            .arg(&index)
            .arg(expires)
            .arg("NX")
            .ignore()
            .cmd("EXPIREAT")
            .arg(&index)
            .arg(expires)
            .arg("GT")
            .ignore();
        self.run_spread(&pipe).await
    }

    async fn find_sso(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        let mut conn = self.connection().await;
        let value: Option<String> = redis::cmd("GET")
            .arg(self.sso_key(id))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let session = value
            .map(|v| serde_json::from_str::<SsoSession>(&v).map_err(|_| corrupt(id)))
            .transpose()?;
        Ok(session.filter(|s| s.expires_at > now))
    }

    async fn add_sso_family(
        &self,
        id: &str,
        family_id: &FamilyId,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        SSO_FAMILY
            .key(self.sso_key(id))
            .key(self.sso_families_key(id))
            .arg(family_id)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn end_sso(&self, id: &str, now: OffsetDateTime) -> Result<Vec<FamilyId>, StoreError> {
        let session = self.find_sso(id, now).await?;
        let mut conn = self.connection().await;
        let families: Vec<String> = END_SSO
            .key(self.sso_key(id))
            .key(self.sso_families_key(id))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Some(session) = session {
            redis::cmd("ZREM")
                .arg(self.user_sso_key(session.user_id))
                .arg(id)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        Ok(families.into_iter().map(Into::into).collect())
    }

    async fn end_user_sso(&self, user: UserId, now: OffsetDateTime) -> Result<usize, StoreError> {
        let sessions = self.list_sso(user, now).await?;
        for session in &sessions {
            self.end_sso(&session.id, now).await?;
        }
        Ok(sessions.len())
    }

    async fn list_sso(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SsoSession>, StoreError> {
        let mut conn = self.connection().await;
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.user_sso_key(user))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut sessions = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(session) = self.find_sso(&id, now).await?.filter(|s| s.user_id == user) {
                sessions.push(session);
            }
        }
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(sessions)
    }
}

#[async_trait]
impl CodeStore for RedisStore {
    async fn put_code(
        &self,
        digest: &[u8; 32],
        code: &AuthCode,
        ttl: Duration,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let key = self.code_key(digest);
        let value = serde_json::to_string(code).map_err(|e| StoreError::Other(e.into()))?;
        let mut conn = self.connection().await;
        redis::pipe()
            .hset_multiple(&key, &[("state", "fresh"), ("code", value.as_str())])
            .ignore()
            .pexpire(&key, ms(ttl))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn take_code(
        &self,
        digest: &[u8; 32],
        _now: OffsetDateTime,
    ) -> Result<CodeTake, StoreError> {
        let mut conn = self.connection().await;
        let reply: Vec<String> = TAKE_CODE
            .key(self.code_key(digest))
            .arg(ms(SPENT_CODE_MEMORY))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match reply.as_slice() {
            [state, code] if state == "fresh" => CodeTake::Fresh(
                serde_json::from_str(code)
                    .map_err(|_| StoreError::Corrupt("authorization code: unreadable".into()))?,
            ),
            [state, family] if state == "replayed" => CodeTake::Replayed(
                Some(family.clone())
                    .filter(|f| !f.is_empty())
                    .map(Into::into),
            ),
            _ => CodeTake::Unknown,
        })
    }

    async fn record_code_family(
        &self,
        digest: &[u8; 32],
        family_id: &FamilyId,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.connection().await;
        let recorded: i64 = RECORD_CODE
            .key(self.code_key(digest))
            .arg(family_id)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(recorded == 1)
    }
}

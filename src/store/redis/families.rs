//! Refresh-token families and revocation state in Redis (RFC 9068, book § Endpoints, book § Configuration). A family is one
//! hash under a `{sid}` hash tag, so each script touches one Redis Cluster slot; its size
//! stays constant however often it rotates. Each user and each client has an index of its
//! families (a sorted set scored by absolute expiry): expired members are trimmed when a
//! family is added, dead ones when the index is listed, and ending a family removes its
//! entries. Only SHA-256 digests of refresh tokens are stored; a retry within the grace
//! window derives the same next token again, so no token is kept in any form.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, RedisStore};
use crate::domain::FamilyId;
use crate::domain::UserId;
use crate::store::{
    Ended, Family, FamilyStore, RotateRequest, Rotation, SessionInfo, SessionMeta, StoreError,
};

static ROTATE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("rotate.lua")));
static REVOKE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("revoke.lua")));

/// A family hash's fields: the seven `rotate.lua` returns, then its own state and the
/// session's metadata.
pub(super) const FAMILY_FIELDS: [&str; 12] = [
    "user_id",
    "client_id",
    "scope",
    "auth_time",
    "amr",
    "created_at",
    "abs_exp",
    "current",
    "previous",
    "rotated_at",
    "ip",
    "user_agent",
];

/// How many index members one round of a client-wide revocation reads.
const REVOKE_BATCH: isize = 500;

impl RedisStore {
    pub(super) fn family_key(&self, family_id: &str) -> String {
        self.key(&["fam", &format!("{{{family_id}}}")])
    }

    pub(super) fn sessions_key(&self, user: UserId) -> String {
        self.key(&["user", &format!("{{{user}}}"), "families"])
    }

    pub(super) fn client_sessions_key(&self, client_id: &str) -> String {
        self.key(&["client", &format!("{{{client_id}}}"), "families"])
    }

    /// Drops an ended family from its user's and its client's index.
    async fn unindex(
        &self,
        family_id: &FamilyId,
        user: &str,
        client_id: &str,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        if let Ok(user) = user.parse::<UserId>() {
            pipe.zrem(self.sessions_key(user), family_id).ignore();
        }
        pipe.zrem(self.client_sessions_key(client_id), family_id)
            .ignore();
        self.run_spread(&pipe).await
    }
}

/// Parses the family fields a script returns after its status.
fn family_from(family_id: &str, fields: &[String]) -> Result<Family, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("family {family_id}: {what}"));
    let at = |text: &str, what: &str| second(text).ok_or_else(|| corrupt(what));
    let [user_id, client_id, scope, auth_time, amr, created_at, abs_exp, ..] = fields else {
        return Err(corrupt("short reply"));
    };
    Ok(Family {
        id: family_id.to_owned().into(),
        user_id: user_id.parse().map_err(|_| corrupt("user_id"))?,
        client_id: client_id.clone(),
        scope: scope.clone(),
        auth_time: at(auth_time, "auth_time")?,
        amr: amr
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: at(created_at, "created_at")?,
        absolute_expiry: at(abs_exp, "abs_exp")?,
    })
}

/// A time stored as Unix seconds.
fn second(text: &str) -> Option<time::OffsetDateTime> {
    let secs = text.parse().ok()?;
    time::OffsetDateTime::from_unix_timestamp(secs).ok()
}

#[async_trait]
impl FamilyStore for RedisStore {
    async fn create_family(
        &self,
        family: &Family,
        meta: &SessionMeta,
        current: Option<&[u8; 32]>,
        ttl: std::time::Duration,
        _now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let key = self.family_key(&family.id);
        let index = self.sessions_key(family.user_id);
        let by_client = self.client_sessions_key(&family.client_id);
        let (created, expiry) = (
            family.created_at.unix_timestamp(),
            family.absolute_expiry.unix_timestamp(),
        );
        let ttl = secs(ttl).min(expiry - created).max(1);
        let index_ttl = (expiry - created).max(1);
        // three slots, not atomic: the indexes are advisory (dead members are dropped when
        // listed, expired ones trimmed here)
        let mut pipe = redis::pipe();
        pipe.hset_multiple(
            &key,
            &[
                ("user_id", family.user_id.to_string()),
                ("client_id", family.client_id.clone()),
                ("scope", family.scope.clone()),
                ("auth_time", family.auth_time.unix_timestamp().to_string()),
                ("amr", family.amr.join(",")),
                ("created_at", created.to_string()),
                ("abs_exp", expiry.to_string()),
                ("current", current.map(hex::encode).unwrap_or_default()),
                ("ip", meta.ip.clone().unwrap_or_default()),
                ("user_agent", meta.user_agent.clone().unwrap_or_default()),
            ],
        )
        .ignore()
        .expire(&key, ttl)
        .ignore()
        .zrembyscore(&index, "-inf", created)
        .ignore()
        .zadd(&index, &family.id, expiry)
        .ignore()
        .expire(&index, index_ttl)
        .ignore()
        .zrembyscore(&by_client, "-inf", created)
        .ignore()
        .zadd(&by_client, &family.id, expiry)
        .ignore()
        .expire(&by_client, index_ttl)
        .ignore();
        self.run_spread(&pipe).await
    }

    async fn list_sessions(
        &self,
        user: UserId,
        _now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let mut conn = self.connection().await;
        let index = self.sessions_key(user);
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(&index)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET").arg(self.family_key(id)).arg(
                &[
                    "user_id",
                    "client_id",
                    "created_at",
                    "rotated_at",
                    "ip",
                    "user_agent",
                ][..],
            );
        }
        let rows: Vec<Vec<Option<String>>> = if ids.is_empty() {
            Vec::new()
        } else {
            let replies = self.query_spread(&pipe).await?;
            redis::from_redis_value(&redis::Value::Array(replies)).map_err(unavailable)?
        };
        let mut sessions = Vec::new();
        let mut dead = Vec::new();
        for (id, row) in ids.into_iter().zip(rows) {
            match row.as_slice() {
                [Some(owner), Some(client_id), Some(created), rotated, ip, ua]
                    if *owner == user.to_string() =>
                {
                    let created_at = second(created).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                    sessions.push(SessionInfo {
                        id: id.into(),
                        client_id: client_id.clone(),
                        created_at,
                        // the last rotation, or the login when it never rotated
                        last_used: rotated.as_deref().and_then(second).unwrap_or(created_at),
                        ip: ip.clone().filter(|s| !s.is_empty()),
                        user_agent: ua.clone().filter(|s| !s.is_empty()),
                    })
                }
                _ => dead.push(id),
            }
        }
        if !dead.is_empty() {
            redis::cmd("ZREM")
                .arg(&index)
                .arg(dead)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(sessions)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&FamilyId>,
        now: OffsetDateTime,
    ) -> Result<Vec<Ended>, StoreError> {
        let mut revoked = Vec::new();
        for session in self.list_sessions(user, now).await? {
            if Some(&session.id) != keep {
                revoked.extend(self.revoke_family(&session.id, None, now).await?);
            }
        }
        Ok(revoked)
    }

    async fn revoke_client_sessions(
        &self,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Ended>, StoreError> {
        let index = self.client_sessions_key(client_id);
        let mut revoked = Vec::new();
        // in batches, so a client with a million sessions is never read whole; every round
        // removes what it read, so the loop ends
        loop {
            let mut conn = self.connection().await;
            let ids: Vec<String> = redis::cmd("ZRANGE")
                .arg(&index)
                .arg(0)
                .arg(REVOKE_BATCH - 1)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if ids.is_empty() {
                break;
            }
            for id in &ids {
                // the client check keeps a stale entry from touching another client's family
                revoked.extend(
                    self.revoke_family(&id.clone().into(), Some(client_id), now)
                        .await?,
                );
            }
            redis::cmd("ZREM")
                .arg(&index)
                .arg(&ids)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
        }
        let mut conn = self.connection().await;
        redis::cmd("UNLINK")
            .arg(&index)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(revoked)
    }

    async fn rotate(&self, r: RotateRequest<'_>) -> Result<Rotation, StoreError> {
        let mut conn = self.connection().await;
        let reply: Vec<String> = ROTATE
            .key(self.family_key(r.family_id))
            .arg(hex::encode(r.presented))
            .arg(hex::encode(r.next))
            .arg(r.now.unix_timestamp())
            .arg(secs(r.idle_ttl))
            .arg(r.client_id)
            .arg(secs(r.grace))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let Some((status, fields)) = reply.split_first() else {
            return Ok(Rotation::Rejected);
        };
        Ok(match status.as_str() {
            "rotated" => Rotation::Rotated(family_from(r.family_id, fields)?),
            "grace" => Rotation::Grace(family_from(r.family_id, fields)?),
            "reused" => {
                let family = family_from(r.family_id, fields)?;
                self.unindex(&family.id, &family.user_id.to_string(), &family.client_id)
                    .await?;
                Rotation::Reused(family)
            }
            _ => Rotation::Rejected,
        })
    }

    async fn revoke_family(
        &self,
        family_id: &FamilyId,
        client_id: Option<&str>,
        _now: OffsetDateTime,
    ) -> Result<Option<Ended>, StoreError> {
        let mut conn = self.connection().await;
        let ended: Vec<String> = REVOKE
            .key(self.family_key(family_id))
            .arg(client_id.unwrap_or_default())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match ended.as_slice() {
            [user, client] => {
                self.unindex(family_id, user, client).await?;
                Ok(Some(Ended {
                    id: family_id.to_owned(),
                    client_id: client.clone(),
                    user_id: user
                        .parse()
                        .map_err(|_| StoreError::Corrupt(format!("family {family_id}: user")))?,
                }))
            }
            _ => Ok(None),
        }
    }

    async fn find_family(
        &self,
        family_id: &FamilyId,
        now: OffsetDateTime,
    ) -> Result<Option<Family>, StoreError> {
        let mut conn = self.connection().await;
        let names = &FAMILY_FIELDS[..7];
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.family_key(family_id))
            .arg(names)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match values.into_iter().collect::<Option<Vec<String>>>() {
            // idle expiry is the key's TTL; the absolute one is the caller's to judge
            Some(fields) => {
                Ok(Some(family_from(family_id, &fields)?).filter(|f| f.absolute_expiry > now))
            }
            None => Ok(None),
        }
    }

    async fn is_current(
        &self,
        family_id: &FamilyId,
        hash: &[u8; 32],
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(self
            .current_hash(family_id)
            .await?
            .is_some_and(|c| c == hex::encode(hash)))
    }
}

impl RedisStore {
    async fn current_hash(&self, family_id: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.connection().await;
        redis::cmd("HGET")
            .arg(self.family_key(family_id))
            .arg("current")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}

/// Whole seconds, as Redis takes them.
pub(super) fn secs(span: std::time::Duration) -> i64 {
    i64::try_from(span.as_secs()).unwrap_or(i64::MAX)
}

//! Refresh-token families in Redis (SPEC S4): one hash per family under a `{family id}`
//! hash tag, so every key a script touches lands in one Redis Cluster slot. Only SHA-256
//! digests of refresh tokens are stored.

use async_trait::async_trait;

use super::{unavailable, RedisStore};
use crate::store::{Family, FamilyStore, Rotation, StoreError};

static ROTATE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("rotate.lua")));
static REVOKE: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(include_str!("revoke.lua")));

impl RedisStore {
    fn family_key(&self, family_id: &str) -> String {
        self.key(&["fam", &format!("{{{family_id}}}")])
    }
}

#[async_trait]
impl FamilyStore for RedisStore {
    async fn create_family(
        &self,
        family: &Family,
        current: &[u8; 32],
        idle_ttl_secs: i64,
    ) -> Result<(), StoreError> {
        let key = self.family_key(&family.id);
        let ttl = idle_ttl_secs
            .min(family.absolute_expiry - family.created_at)
            .max(1);
        let mut conn = self.connection();
        redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("user_id", family.user_id.to_string()),
                    ("client_id", family.client_id.clone()),
                    ("scope", family.scope.clone()),
                    ("auth_time", family.auth_time.to_string()),
                    ("amr", family.amr.join(",")),
                    ("created_at", family.created_at.to_string()),
                    ("abs_exp", family.absolute_expiry.to_string()),
                    ("last_used", family.created_at.to_string()),
                    ("current", hex::encode(current)),
                ],
            )
            .ignore()
            .expire(&key, ttl)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn rotate(
        &self,
        family_id: &str,
        presented: &[u8; 32],
        next: &[u8; 32],
        client_id: Option<&str>,
        now: i64,
        idle_ttl_secs: i64,
    ) -> Result<Rotation, StoreError> {
        let mut conn = self.connection();
        let reply: Vec<String> = ROTATE
            .key(self.family_key(family_id))
            .arg(hex::encode(presented))
            .arg(hex::encode(next))
            .arg(now)
            .arg(idle_ttl_secs)
            .arg(client_id.unwrap_or_default())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match reply.as_slice() {
            [status, user_id, client_id, scope, auth_time, amr, created_at, abs_exp]
                if status == "rotated" =>
            {
                let corrupt =
                    |what: &str| StoreError::Corrupt(format!("family {family_id}: {what}"));
                Ok(Rotation::Rotated(Family {
                    id: family_id.to_owned(),
                    user_id: user_id.parse().map_err(|_| corrupt("user_id"))?,
                    client_id: client_id.clone(),
                    scope: scope.clone(),
                    auth_time: auth_time.parse().map_err(|_| corrupt("auth_time"))?,
                    amr: amr
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    created_at: created_at.parse().map_err(|_| corrupt("created_at"))?,
                    absolute_expiry: abs_exp.parse().map_err(|_| corrupt("abs_exp"))?,
                }))
            }
            _ => Ok(Rotation::Rejected),
        }
    }

    async fn revoke_family(
        &self,
        family_id: &str,
        presented: Option<&[u8; 32]>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.connection();
        let revoked: i64 = REVOKE
            .key(self.family_key(family_id))
            .arg(presented.map(hex::encode).unwrap_or_default())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(revoked == 1)
    }
}

//! What Redis must be configured as for tessera (issue 17, book § Production and many instances: PostgreSQL + Redis): no
//! eviction (an evicted blocklist entry un-revokes a token, an evicted cut-off un-does a
//! password change, an evicted family logs a user out) and persistence (a restart without
//! it logs everyone out and un-revokes every token). Checked at start; a Redis that does
//! not allow `CONFIG GET` (some managed services) is not checked.

use super::conn::Node;
use super::RedisStore;
use crate::store::StoreError;

/// What is wrong with these settings, worst first: (loud, message).
pub fn findings(
    policy: Option<&str>,
    appendonly: Option<&str>,
    save: Option<&str>,
) -> Vec<(bool, String)> {
    let mut found = Vec::new();
    if let Some(policy) = policy.filter(|p| *p != "noeviction") {
        found.push((
            true,
            format!(
                "Redis maxmemory-policy is {policy}: at its memory limit Redis silently drops keys, \
                 and a dropped blocklist entry or cut-off makes a revoked token valid again; \
                 set maxmemory-policy noeviction (writes then fail with 503 instead)"
            ),
        ));
    }
    let aof = appendonly == Some("yes");
    let snapshots = save.is_some_and(|s| !s.trim().is_empty());
    if appendonly.is_some() && !aof {
        found.push((
            false,
            format!(
                "Redis persistence is {}: a Redis restart ends every session and un-revokes every \
                 blocklisted token; run it with appendonly yes, appendfsync everysec",
                if snapshots {
                    "RDB snapshots only (minutes of writes can be lost)"
                } else {
                    "off"
                }
            ),
        ));
    }
    found
}

/// `name`'s value on `node`.
async fn config_get(
    store: &RedisStore,
    node: &Node,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let pair: Vec<String> = store
        .on_node(node, redis::cmd("CONFIG").arg("GET").arg(name))
        .await?;
    Ok(pair.get(1).cloned())
}

/// Whether Redis refused the command itself (CONFIG disabled or renamed).
fn refused(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable { source, .. } if source
        .downcast_ref::<redis::RedisError>()
        .is_some_and(|e| e.kind() == redis::ErrorKind::ResponseError))
}

impl RedisStore {
    /// The findings for this Redis (every master of a cluster), or `None` when its
    /// configuration cannot be read.
    pub async fn check_settings(&self) -> Result<Option<Vec<(bool, String)>>, StoreError> {
        let mut found = Vec::new();
        for node in self.masters().await? {
            let policy = match config_get(self, &node, "maxmemory-policy").await {
                Ok(policy) => policy,
                Err(e) if refused(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            let appendonly = config_get(self, &node, "appendonly").await?;
            let save = config_get(self, &node, "save").await?;
            for finding in findings(policy.as_deref(), appendonly.as_deref(), save.as_deref()) {
                if !found.contains(&finding) {
                    found.push(finding);
                }
            }
        }
        Ok(Some(found))
    }
}

#[cfg(test)]
mod tests {
    use super::findings;

    #[test]
    fn evicting_policies_are_loud_and_missing_persistence_is_named() {
        assert!(findings(Some("noeviction"), Some("yes"), Some("")).is_empty());
        for policy in [
            "allkeys-lru",
            "volatile-lru",
            "volatile-ttl",
            "allkeys-random",
        ] {
            let found = findings(Some(policy), Some("yes"), Some(""));
            assert_eq!(found.len(), 1);
            assert!(found[0].0 && found[0].1.contains(policy), "{found:?}");
        }
        let off = findings(Some("noeviction"), Some("no"), Some(""));
        assert!(!off[0].0 && off[0].1.contains("is off"), "{off:?}");
        let rdb = findings(Some("noeviction"), Some("no"), Some("3600 1"));
        assert!(rdb[0].1.contains("RDB snapshots only"), "{rdb:?}");
        // unknown (not readable): nothing claimed
        assert!(findings(None, None, None).is_empty());
    }
}

//! The DPoP proofs a verifier has seen (RFC 9449 §11.1): each `jti` is remembered, per
//! key, until its proof's `iat` window closes, so a proof captured on the way cannot be
//! sent again to this service. In memory: one service instance sees its own requests (a
//! proof names its URL and method, so it is no use elsewhere).

use std::collections::HashMap;
use std::sync::Mutex;

/// More remembered proofs than this and the expired ones are swept first; if none have
/// expired, new proofs are refused until some do (a flood cannot make the cache forget).
const CAPACITY: usize = 200_000;

#[derive(Default)]
pub(crate) struct Seen {
    /// `jkt` + `jti` → the Unix second it may be forgotten.
    entries: Mutex<HashMap<String, i64>>,
}

impl Seen {
    /// `true` the first time the key's `jti` is seen before `until`.
    pub(crate) fn first(&self, jkt: &str, jti: &str, now: i64, until: i64) -> bool {
        let Ok(mut entries) = self.entries.lock() else {
            return false;
        };
        let key = format!("{jkt}\0{jti}");
        if entries.get(&key).is_some_and(|until| *until >= now) {
            return false;
        }
        if entries.len() >= CAPACITY {
            entries.retain(|_, until| *until >= now);
            if entries.len() >= CAPACITY {
                return false;
            }
        }
        entries.insert(key, until);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_accepted_once_per_key_until_its_window_ends() {
        let seen = Seen::default();
        assert!(seen.first("k1", "a", 100, 160));
        assert!(!seen.first("k1", "a", 120, 180));
        assert!(seen.first("k2", "a", 120, 180));
        assert!(seen.first("k1", "a", 161, 221));
    }
}

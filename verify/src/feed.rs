//! Following tessera's revocation feed (`GET /oauth2/revocations`): what has been revoked
//! although its signature still verifies, kept until the tokens it concerns have expired.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::Revocation;
use crate::Claims;

/// How long a user's cut-off is kept after its time: past every access token issued
/// before it (tessera's longest access-token lifetime is 1 h).
const CUTOFF_KEPT: i64 = 2 * 3600;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    Jti {
        jti: String,
        exp: i64,
    },
    Session {
        sid: String,
        exp: i64,
    },
    User {
        sub: String,
        not_before: i64,
    },
    Key {
        kid: String,
    },
    Client {
        client_id: String,
        not_before: i64,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct Page {
    events: Vec<serde_json::Value>,
    next: String,
    /// The issuer stopped before the end of the feed: read on even if `events` is empty.
    #[serde(default)]
    more: bool,
}

/// How often one sync starts over after `410` before giving up until the next poll, and
/// the pause before each new start (a feed trimmed mid-scan must not make a spin).
const RESTARTS: u32 = 3;
const RESTART_PAUSE: Duration = Duration::from_millis(500);

/// What the feed said, as sets to check a token against.
#[derive(Debug, Default)]
struct Revoked {
    jtis: HashMap<String, i64>,
    sids: HashMap<String, i64>,
    users: HashMap<String, i64>,
    clients: HashMap<String, i64>,
    kids: HashSet<String>,
}

impl Revoked {
    fn apply(&mut self, event: Event) {
        match event {
            Event::Jti { jti, exp } => {
                self.jtis.insert(jti, exp);
            }
            Event::Session { sid, exp } => {
                self.sids.insert(sid, exp);
            }
            Event::User { sub, not_before } => {
                let at = self.users.entry(sub).or_insert(not_before);
                *at = (*at).max(not_before);
            }
            Event::Key { kid } => {
                self.kids.insert(kid);
            }
            Event::Client {
                client_id,
                not_before,
            } => {
                let at = self.clients.entry(client_id).or_insert(not_before);
                *at = (*at).max(not_before);
            }
            Event::Unknown => {}
        }
    }

    /// Drops what no unexpired token can match any more.
    fn prune(&mut self, now: i64, leeway: i64) {
        self.jtis.retain(|_, exp| *exp + leeway >= now);
        self.sids.retain(|_, exp| *exp + leeway >= now);
        self.users.retain(|_, at| *at + CUTOFF_KEPT >= now);
        self.clients.retain(|_, at| *at + CUTOFF_KEPT >= now);
    }
}

pub(crate) struct Follower {
    endpoint: String,
    client_id: String,
    client_secret: String,
    cursor: Mutex<Option<String>>,
    revoked: RwLock<Revoked>,
    started: Instant,
    last_synced: Mutex<Option<Instant>>,
    /// One sync at a time.
    syncing: tokio::sync::Mutex<()>,
}

impl Follower {
    pub fn new(endpoint: String, client_id: String, client_secret: String) -> Self {
        Follower {
            endpoint,
            client_id,
            client_secret,
            cursor: Mutex::new(None),
            revoked: RwLock::new(Revoked::default()),
            started: Instant::now(),
            last_synced: Mutex::new(None),
            syncing: tokio::sync::Mutex::new(()),
        }
    }

    /// How long since the feed last answered in full (since start if it never did).
    pub fn staleness(&self) -> Duration {
        let last = self.last_synced.lock().ok().and_then(|l| *l);
        last.unwrap_or(self.started).elapsed()
    }

    /// What revoked `claims`, if anything did.
    pub fn check(&self, claims: &Claims) -> Option<Revocation> {
        let revoked = self.revoked.read().ok()?;
        if revoked.kids.contains(&claims.kid) {
            return Some(Revocation::Key);
        }
        if revoked.jtis.contains_key(&claims.jti) {
            return Some(Revocation::Token);
        }
        if claims
            .sid
            .as_ref()
            .is_some_and(|sid| revoked.sids.contains_key(sid))
        {
            return Some(Revocation::Session);
        }
        if revoked
            .users
            .get(&claims.sub)
            .is_some_and(|not_before| claims.iat < *not_before)
        {
            return Some(Revocation::User);
        }
        if revoked
            .clients
            .get(&claims.client_id)
            .is_some_and(|not_before| claims.iat < *not_before)
        {
            return Some(Revocation::Client);
        }
        None
    }

    /// Reads the feed from the cursor to its end. On a `410` (the cursor is older than the
    /// feed keeps, or from before a restore or an import) it starts over from the oldest
    /// event kept, keeping what it holds; after a pause, and a few times at most.
    pub async fn sync(&self, http: &reqwest::Client, leeway: i64) -> Result<usize, String> {
        let _one = self.syncing.lock().await;
        let mut applied = 0;
        let mut restarts = 0;
        loop {
            let after = self.cursor.lock().ok().and_then(|c| c.clone());
            let mut request = http
                .get(&self.endpoint)
                .basic_auth(&self.client_id, Some(&self.client_secret))
                .query(&[("limit", "1000")]);
            if let Some(after) = &after {
                request = request.query(&[("after", after)]);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            if response.status() == reqwest::StatusCode::GONE && after.is_some() {
                tracing::warn!(
                    "revocation feed cursor expired: reading the feed again from its start"
                );
                if let Ok(mut cursor) = self.cursor.lock() {
                    *cursor = None;
                }
                restarts += 1;
                if restarts > RESTARTS {
                    return Err("the revocation feed keeps expiring the cursor".into());
                }
                if restarts > 1 {
                    tokio::time::sleep(RESTART_PAUSE * restarts).await;
                }
                continue;
            }
            if !response.status().is_success() {
                return Err(format!(
                    "the revocation feed answered {}",
                    response.status()
                ));
            }
            let page: Page = crate::body::json(response).await?;
            let done = page.events.is_empty() && !page.more;
            if let Ok(mut revoked) = self.revoked.write() {
                for event in page.events {
                    // an event of a type this version does not know is skipped
                    if let Ok(event) = serde_json::from_value::<Event>(event) {
                        revoked.apply(event);
                        applied += 1;
                    }
                }
                revoked.prune(crate::unix_now(), leeway);
            }
            if let Ok(mut cursor) = self.cursor.lock() {
                *cursor = Some(page.next);
            }
            if done {
                break;
            }
        }
        if let Ok(mut last) = self.last_synced.lock() {
            *last = Some(Instant::now());
        }
        Ok(applied)
    }

    /// Polls the feed every `interval` while the verifier lives.
    pub async fn follow(inner: std::sync::Weak<crate::Inner>, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let Some(follower) = &inner.feed else {
                return;
            };
            if let Err(e) = follower.sync(&inner.http, inner.config.leeway_secs()).await {
                tracing::warn!(error = %e, staleness = ?follower.staleness(), "revocation feed unreachable: keeping the revocations held");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_offs_only_move_forward_and_expired_entries_go() {
        let mut r = Revoked::default();
        r.apply(Event::User {
            sub: "u".into(),
            not_before: 100,
        });
        r.apply(Event::User {
            sub: "u".into(),
            not_before: 50,
        });
        assert_eq!(r.users["u"], 100);
        r.apply(Event::Jti {
            jti: "j".into(),
            exp: 10,
        });
        r.apply(Event::Session {
            sid: "s".into(),
            exp: 1000,
        });
        r.prune(100, 30);
        assert!(!r.jtis.contains_key("j"));
        assert!(r.sids.contains_key("s"));
        r.prune(100 + CUTOFF_KEPT + 1, 30);
        assert!(r.users.is_empty());
    }
}

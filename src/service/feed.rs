//! The revocation feed (book § Verifying tokens in other services): what each revocation tells offline verifiers, and the
//! page a confidential client reads, scoped like introspection.

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;

use crate::config::Settings;
use crate::domain::Client;
use crate::domain::UserId;
use crate::store::{Cursor, Ended, FeedRead, FeedRecord, Revocation, StoreError, Stores};
use crate::tokens::AccessClaims;

/// Events are kept past every access token they could concern: the longest access-token
/// lifetime (1 h) plus clock leeway (the per-user cut-offs live as long).
pub fn retention(settings: &Settings) -> Duration {
    crate::config::MAX_ACCESS_TOKEN_TTL + settings.clock_leeway
}

async fn publish(
    stores: &Stores,
    settings: &Settings,
    now: OffsetDateTime,
    records: Vec<FeedRecord>,
) -> Result<(), StoreError> {
    stores
        .feed
        .append(&records, now, retention(settings))
        .await
        .inspect_err(|e| tracing::error!(error = %e, "a revocation did not reach the feed"))
}

/// The audiences a client's access tokens carry (its own, or the default one).
fn audiences_of(settings: &Settings, client: &Client) -> Vec<String> {
    if client.audiences.is_empty() {
        vec![settings.default_audience.clone()]
    } else {
        client.audiences.clone()
    }
}

/// An access token was revoked (RFC 7009, or presented at logout).
pub async fn token_revoked(
    stores: &Stores,
    settings: &Settings,
    claims: &AccessClaims,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let record = FeedRecord {
        event: Revocation::Jti {
            jti: claims.jti.clone(),
            exp: claims.exp,
        },
        client_id: Some(claims.client_id.clone()),
        aud: claims.aud.0.clone(),
    };
    publish(stores, settings, now, vec![record]).await
}

/// Sessions ended, by the clients they were issued to; `client` when the caller has it
/// (a deleted client is no longer in the store). The revocation feed hears of each; so
/// does each client with a back-channel logout endpoint, through the outbox (book
/// § Integrating).
pub async fn sessions_ended(
    stores: &Stores,
    settings: &Settings,
    ended: &[Ended],
    client: Option<&Client>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if ended.is_empty() {
        return Ok(());
    }
    // the last access token of each session expires one lifetime from now at the latest;
    // the lifetime is the longest any token could have been issued with (a client's own,
    // or a global TTL lowered since), so no verifier forgets a revocation early
    let exp = (now + crate::config::MAX_ACCESS_TOKEN_TTL).unix_timestamp();
    let mut clients: HashMap<&str, Option<Client>> = HashMap::new();
    if let Some(c) = client {
        clients.insert(c.id.as_str(), Some(c.clone()));
    }
    let mut records = Vec::with_capacity(ended.len());
    let mut logouts = Vec::new();
    for session in ended {
        if !clients.contains_key(session.client_id.as_str()) {
            let found = match crate::domain::ClientId::parse(&session.client_id) {
                Ok(id) => stores.clients.find_client(&id).await?,
                Err(_) => None,
            };
            clients.insert(&session.client_id, found);
        }
        let found = clients[session.client_id.as_str()].as_ref();
        records.push(FeedRecord {
            event: Revocation::Session {
                sid: session.id.to_string(),
                exp,
            },
            client_id: Some(session.client_id.clone()),
            aud: found.map(|c| audiences_of(settings, c)).unwrap_or_default(),
        });
        if let Some(c) = found {
            logouts.extend(crate::service::outbox::backchannel_logout(
                &settings.kek,
                c,
                session,
                now,
            )?);
        }
    }
    publish(stores, settings, now, records).await?;
    // after the feed, so an outbox outage never keeps a revocation from verifiers; all in
    // one transaction (a thousand sessions ended at once are one commit, not a thousand)
    if !logouts.is_empty() {
        stores
            .outbox
            .enqueue(&logouts)
            .await
            .inspect_err(|e| tracing::error!(error = %e, "back-channel logouts were not queued"))?;
    }
    Ok(())
}

/// Every token of `user` issued before `at` is void.
pub async fn user_cut_off(
    stores: &Stores,
    settings: &Settings,
    user: UserId,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    let event = Revocation::User {
        sub: user.to_string(),
        not_before: at.unix_timestamp(),
    };
    publish(stores, settings, at, vec![FeedRecord::public(event)]).await
}

/// A signing key was revoked in an emergency.
pub async fn key_revoked(
    stores: &Stores,
    settings: &Settings,
    kid: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let event = Revocation::Key {
        kid: kid.to_owned(),
    };
    publish(stores, settings, now, vec![FeedRecord::public(event)]).await
}

/// A client was deleted: its tokens are void, `client_credentials` ones included (those
/// belong to no session). No token can be issued to it any more, so the cut-off is the
/// next second: a token issued in the second it was deleted is void too.
pub async fn client_deleted(
    stores: &Stores,
    settings: &Settings,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let event = Revocation::Client {
        client_id: client_id.to_owned(),
        not_before: now.unix_timestamp() + 1,
    };
    publish(stores, settings, now, vec![FeedRecord::public(event)]).await
}

/// Why a feed request was refused.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the cursor is not one this feed wrote")]
    Malformed,
    #[error("the cursor is older than the feed keeps, ahead of it, or from another store epoch (a restore or an import): start over without after")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of the feed for `client` (`http::revocation_feed` owns its wire form).
#[derive(Debug)]
pub struct Page {
    /// Oldest first; empty (with `more` false) when the client is caught up.
    pub events: Vec<Revocation>,
    /// Where to read on from (`after`).
    pub next: String,
    /// The request stopped before the end of the feed (a full page, or the most stored
    /// events one request reads): read on from `next` even if `events` is empty.
    pub more: bool,
}

/// The most events a page holds, and how many when the client does not say.
pub const MAX_LIMIT: usize = 1000;
pub const DEFAULT_LIMIT: usize = 100;
/// How many stored events one request reads at most, per event it may return: a client
/// that sees few of the feed's events still costs a bounded amount per request.
pub const SCAN_FACTOR: usize = 10;

/// Whether `client` may learn of `record` (as introspection would tell it of the token).
fn visible(settings: &Settings, client: &Client, record: &FeedRecord) -> bool {
    let Some(owner) = &record.client_id else {
        return true;
    };
    owner == client.id.as_str()
        || record.aud.iter().any(|aud| {
            aud == client.id.as_str()
                || *aud == settings.default_audience
                || client.audiences.contains(aud)
        })
}

/// Up to `limit` events after `after` that `client` may see, oldest first, reading at most
/// `SCAN_FACTOR × limit` stored events, however large the feed.
pub async fn read(
    stores: &Stores,
    settings: &Settings,
    client: &Client,
    after: Option<&str>,
    limit: usize,
) -> Result<Page, FeedError> {
    let mut position = match after {
        Some(text) => Some(Cursor::decode(text).ok_or(FeedError::Malformed)?),
        None => None,
    };
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut budget = limit * SCAN_FACTOR;
    let mut events = Vec::new();
    // events for other clients are skipped, so a page may take several reads
    loop {
        let batch = budget.min(limit.max(100));
        let (records, end) = match stores.feed.read(position, batch).await? {
            FeedRead::Expired => return Err(FeedError::Expired),
            FeedRead::Page { records, end } => (records, end),
        };
        let complete = records.len() < batch;
        budget -= records.len();
        position = Some(end);
        for (cursor, record) in records {
            if visible(settings, client, &record) {
                events.push(record.event);
                if events.len() == limit {
                    return Ok(Page {
                        events,
                        next: cursor.encode(),
                        more: true,
                    });
                }
            }
        }
        if complete || budget == 0 {
            return Ok(Page {
                events,
                next: end.encode(),
                more: !complete,
            });
        }
    }
}

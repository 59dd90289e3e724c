//! Delivering the outbox (book § Email): a background worker takes due messages, opens
//! each (sealed under the KEK), hands it to its transport (mail: SMTP, the webhook or the
//! log; a logout token: the relying party's back channel), and deletes a pass's
//! deliveries at once. A failed attempt is tried again after an exponential
//! backoff (5 s, 10 s, 20 s, … at most an hour apart); after `MAX_ATTEMPTS`, or at once
//! when the transport refused it for good (an SMTP 5xx), the message is kept as failed for an operator (`/admin/outbox`), who may queue it again. A link
//! (reset, verification, change of address) that expired before it could be delivered is
//! dropped, not sent.
//!
//! Mail is written by the stores in the same transaction as the change that causes it
//! (`Outbox::reset_message` builds one); back-channel logouts are queued right after the
//! sessions end (`service::feed::sessions_ended`). A crash after that commit loses
//! nothing: the next pass of any instance's worker finds the row. A
//! claimed message is leased for `LEASE`, so two workers never hold it at once; one
//! that was delivered but whose deletion failed may be delivered again (at least once).

mod sealed;

pub use sealed::backchannel_logout;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::crypto::{Kek, Purpose};
use crate::domain::MessageId;
use crate::notify::{BackChannel, LinkMessage, NoticeMessage, Notifier, ResetMessage, Transports};
use crate::store::{OutboxMessage, OutboxStats, OutboxStore, StoreError};
use crate::tokens::{KeyRing, LogoutClaims, LOGOUT_TOKEN_TYP};
use sealed::Sealed;

/// Attempts before a message is given up on (about nine hours of backoff in all).
pub const MAX_ATTEMPTS: u32 = 12;
/// The first retry's delay; each further one doubles, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a claimed message is another worker's to leave alone.
const LEASE: Duration = Duration::from_secs(120);
/// Messages one pass takes at most.
const BATCH: usize = 32;
/// How often the worker looks without being woken (messages another instance wrote, and
/// retries coming due).
const POLL: Duration = Duration::from_secs(1);

/// The outbox's worker and what operators do with it.
#[derive(Clone)]
pub struct Outbox {
    store: Arc<dyn OutboxStore>,
    transport: Arc<dyn Notifier>,
    backchannel: BackChannel,
    signer: LogoutSigner,
    kek: Kek,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

/// Signs logout tokens at delivery: the key ring and the issuer.
#[derive(Clone)]
pub struct LogoutSigner {
    pub keyring: Arc<KeyRing>,
    pub issuer: String,
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub delivered: usize,
    pub failed: usize,
}

impl Outbox {
    pub fn new(
        store: Arc<dyn OutboxStore>,
        transports: Transports,
        signer: LogoutSigner,
        kek: Kek,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Outbox {
            store,
            transport: transports.mail,
            backchannel: transports.backchannel,
            signer,
            kek,
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Queues a message that goes with no change of its own, and wakes the worker.
    pub async fn send(&self, message: &OutboxMessage) -> Result<(), StoreError> {
        self.store.enqueue(std::slice::from_ref(message)).await?;
        self.wake();
        Ok(())
    }

    /// Tells this instance's worker a message was written, so it goes out now rather than
    /// at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers what is due now, then waits to be woken or for the next poll; forever.
    pub async fn run(self) {
        loop {
            let pass = self.deliver_due().await;
            if let Ok(stats) = self.stats().await {
                crate::metrics::outbox_state(&stats, self.clock.now());
            }
            match pass {
                Ok(pass) if pass.delivered + pass.failed == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox: the store failed; trying again"),
            }
            let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
        }
    }

    /// One pass: the due messages claimed, each delivered or rescheduled.
    pub async fn deliver_due(&self) -> Result<Pass, StoreError> {
        let now = self.clock.now();
        let due = self.store.claim_due(now, now + LEASE, BATCH).await?;
        // up to as many at once as the transport keeps connections: one slow exchange
        // does not hold up the rest
        let settled: Vec<Result<Option<OutboxMessage>, StoreError>> =
            futures_util::stream::iter(due)
                .map(|message| self.settle(message))
                .buffer_unordered(crate::notify::PARALLEL_DELIVERIES)
                .collect()
                .await;
        let mut pass = Pass::default();
        let mut delivered = Vec::new();
        for settled in settled {
            match settled? {
                Some(message) => delivered.push(message),
                None => pass.failed += 1,
            }
        }
        // the pass's deliveries deleted at once; delivered but not deleted (the store
        // failed): the lease runs out and they go again, at least once
        let ids: Vec<MessageId> = delivered.iter().map(|m| m.id).collect();
        self.store.delivered(&ids).await?;
        for message in &delivered {
            crate::metrics::outbox_delivered(&message.kind);
        }
        pass.delivered = delivered.len();
        Ok(pass)
    }

    /// Delivers one message and records a failure: the message when delivered.
    async fn settle(&self, message: OutboxMessage) -> Result<Option<OutboxMessage>, StoreError> {
        match self.deliver(&message).await {
            Ok(()) => Ok(Some(message)),
            Err(undelivered) => {
                self.failed(&message, &undelivered).await?;
                Ok(None)
            }
        }
    }

    async fn deliver(&self, message: &OutboxMessage) -> Result<(), Undelivered> {
        let json = self
            .kek
            .open(
                Purpose::OutboxMessage,
                &message.sealed,
                message.id.as_bytes(),
            )
            .map(zeroize::Zeroizing::new)
            .map_err(|_| Undelivered::retry("the message does not open with the current KEK"))?;
        let sealed: Sealed = serde_json::from_slice(&json)
            .map_err(|_| Undelivered::retry("the message is not readable"))?;
        match sealed {
            Sealed::PasswordReset {
                user_id,
                email,
                token,
                expires_at,
            } => {
                let Some(expires_at) = self.live_until(message, expires_at) else {
                    return Ok(());
                };
                let reset = ResetMessage {
                    user_id,
                    email,
                    token: token.into(),
                    expires_at,
                    sent_at: self.clock.now(),
                };
                self.transport
                    .password_reset(&reset)
                    .await
                    .map_err(Undelivered::from)
            }
            Sealed::Notice {
                user_id,
                email,
                notice,
                at,
            } => {
                let message = NoticeMessage {
                    user_id,
                    email,
                    kind: notice,
                    at: OffsetDateTime::from_unix_timestamp(at)
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                };
                self.transport
                    .notice(&message)
                    .await
                    .map_err(Undelivered::from)
            }
            Sealed::EmailLink {
                user_id,
                email,
                link_kind,
                link,
                expires_at,
            } => {
                let Some(expires_at) = self.live_until(message, expires_at) else {
                    return Ok(());
                };
                let message = LinkMessage {
                    user_id,
                    email,
                    kind: link_kind,
                    link: link.into(),
                    expires_at,
                    sent_at: self.clock.now(),
                };
                self.transport
                    .email_link(&message)
                    .await
                    .map_err(Undelivered::from)
            }
            Sealed::BackchannelLogout {
                client_id,
                uri,
                alg,
                user_id,
                sid,
            } => {
                // signed now, so a delivery after an outage is not stale; the row's id is
                // the `jti`, the same at every attempt
                let claims = LogoutClaims::new(
                    &self.signer.issuer,
                    &client_id,
                    &user_id.to_string(),
                    sid,
                    &message.id.to_string(),
                    self.clock.now().unix_timestamp(),
                );
                let keyring = &self.signer.keyring;
                let token = crate::tokens::sign(
                    keyring,
                    keyring.id_token_alg(alg),
                    LOGOUT_TOKEN_TYP,
                    &claims,
                )
                .map_err(|_| Undelivered::retry("no signing key for the logout token"))?;
                self.backchannel
                    .post(&uri, &token)
                    .await
                    .map_err(Undelivered::from)
            }
        }
    }

    /// When the link `message` carries expires (Unix seconds), or `None` if it already
    /// has: a link that expired before it could be delivered is dropped (a dead link helps
    /// nobody, and the user asks again).
    fn live_until(&self, message: &OutboxMessage, expires_at: i64) -> Option<OffsetDateTime> {
        let expires_at =
            OffsetDateTime::from_unix_timestamp(expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        if expires_at > self.clock.now() {
            return Some(expires_at);
        }
        tracing::info!(message = %message.id, kind = %message.kind, "outbox: the link expired before delivery; dropped");
        crate::metrics::outbox_failed(&message.kind, "expired");
        None
    }

    /// Records a failed attempt: due again after the backoff, or given up on (the last
    /// attempt, or a refusal for good).
    async fn failed(
        &self,
        message: &OutboxMessage,
        undelivered: &Undelivered,
    ) -> Result<(), StoreError> {
        let attempts = message.attempts + 1;
        let reason = undelivered.reason.as_str();
        let retry_at = (attempts < MAX_ATTEMPTS && !undelivered.for_good)
            .then(|| self.clock.now() + backoff(attempts));
        tracing::warn!(
            message = %message.id,
            kind = %message.kind,
            attempts,
            gave_up = retry_at.is_none(),
            reason,
            "outbox: delivery failed"
        );
        self.store
            .attempt_failed(message.id, attempts, retry_at, reason)
            .await?;
        let outcome = if retry_at.is_some() {
            "retrying"
        } else {
            "gave_up"
        };
        crate::metrics::outbox_failed(&message.kind, outcome);
        Ok(())
    }

    /// The messages given up on, oldest first.
    pub async fn failures(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        self.store.failed_messages(limit).await
    }

    /// Queues a message given up on again, due now; false when there is none such.
    pub async fn retry(&self, id: MessageId) -> Result<bool, StoreError> {
        let queued = self.store.retry_message(id, self.clock.now()).await?;
        if queued {
            self.wake();
        }
        Ok(queued)
    }

    pub async fn stats(&self) -> Result<OutboxStats, StoreError> {
        self.store.outbox_stats().await
    }
}

/// Why an attempt failed, and whether another could succeed.
struct Undelivered {
    reason: String,
    for_good: bool,
}

impl Undelivered {
    fn retry(reason: &str) -> Self {
        Undelivered {
            reason: reason.to_owned(),
            for_good: false,
        }
    }
}

impl From<crate::notify::NotifyError> for Undelivered {
    fn from(e: crate::notify::NotifyError) -> Self {
        Undelivered {
            for_good: matches!(e, crate::notify::NotifyError::Refused(_)),
            reason: e.to_string(),
        }
    }
}

/// The delay after the `attempts`-th failure: 5 s, doubling, at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_five_seconds_up_to_an_hour() {
        let delays: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(
            delays,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
    }
}

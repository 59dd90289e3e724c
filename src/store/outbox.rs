//! The outbox (book § Email): messages written in the same transaction as the change that
//! causes them, delivered by a background worker (`service::outbox`) with retries and
//! exponential backoff, deleted once delivered. A crash between the commit and the
//! delivery loses nothing: the worker finds the row on its next pass, on any instance.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::MessageId;

/// A message as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: MessageId,
    /// What it is (`password_reset`, `security_notice`), for operators and metrics.
    pub kind: String,
    /// Unique per message: writing a message whose key is held already writes nothing.
    pub dedupe_key: String,
    /// The message itself, sealed under the KEK (it may carry a link's token).
    pub sealed: Vec<u8>,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When the worker may take it next (a claim moves this on by the lease).
    pub next_attempt_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    /// Why the last attempt failed (no secret: the transport's error, described).
    pub last_error: Option<String>,
    /// Delivery gave up after the last attempt; an operator may retry it.
    pub failed: bool,
}

impl OutboxMessage {
    /// A new message, due at `now`.
    pub fn new(kind: &str, dedupe_key: String, sealed: Vec<u8>, now: OffsetDateTime) -> Self {
        OutboxMessage {
            id: MessageId::generate(),
            kind: kind.to_owned(),
            dedupe_key,
            sealed,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            last_error: None,
            failed: false,
        }
    }
}

/// What the outbox holds, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutboxStats {
    /// Waiting for delivery (due or backing off).
    pub queued: u64,
    /// Given up on, waiting for an operator.
    pub failed: u64,
    /// The oldest queued message's creation.
    pub oldest: Option<OffsetDateTime>,
}

/// The outbox. Messages are written by the stores' own writes (`ResetStore::create_reset`
/// takes its message), so a message exists exactly when its change was committed.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues messages that go with no change of their own (a notice about an attempt, the
    /// logouts of ended sessions), in one transaction; a second write of a dedupe key is a
    /// no-op.
    async fn enqueue(&self, messages: &[OutboxMessage]) -> Result<(), StoreError>;
    /// Up to `limit` queued messages due at `now`, oldest due first, each leased until
    /// `lease_until` (not due again before then, so no other worker takes it meanwhile).
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Delivered: the messages are deleted (one statement for a pass's deliveries).
    async fn delivered(&self, ids: &[MessageId]) -> Result<(), StoreError>;
    /// A failed attempt, the `attempts`-th: due again at `retry_at`, or, with `None`,
    /// given up on.
    async fn attempt_failed(
        &self,
        id: MessageId,
        attempts: u32,
        retry_at: Option<OffsetDateTime>,
        error: &str,
    ) -> Result<(), StoreError>;
    /// The messages given up on, oldest first.
    async fn failed_messages(&self, limit: usize) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Queues a message given up on again, due at `now`; false when there is none such.
    async fn retry_message(&self, id: MessageId, now: OffsetDateTime) -> Result<bool, StoreError>;
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
}

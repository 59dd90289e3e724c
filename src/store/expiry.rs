//! Deleting what has expired where the backend does not do it by itself (book § Architecture): the
//! embedded store's sessions, blocklist entries, cut-offs, sign-in sessions and codes,
//! which Redis would drop by their TTLs, and on both stores the password reset links.
//! Each instance's background loop calls it once a tick (`service::watch`); a call
//! deletes a bounded batch, so it never holds the store for long however much expired at
//! once.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;

/// The most rows of one kind one sweep deletes.
pub const SWEEP_BATCH: usize = 1000;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Rows deleted.
    pub rows: u64,
    /// A batch was full: more may be waiting.
    pub more: bool,
}

#[async_trait]
pub trait Expiry: Send + Sync {
    /// Deletes up to a batch of each kind of row expired at `now`.
    async fn sweep(&self, now: OffsetDateTime) -> Result<Swept, StoreError>;
}

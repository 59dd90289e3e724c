//! In-process state for the embedded mode (README § Run the service): rate limits, lockout counters and
//! pending MFA logins in bounded TTL caches (lost on restart, as README § Run the service allows), and
//! change notifications as an in-process broadcast.

mod changes;
mod limits;
mod mfa_tokens;

pub use changes::LocalChanges;
pub use limits::MemoryLimits;
pub use mfa_tokens::MemoryMfaTokens;

use time::OffsetDateTime;

use crate::clock::{Clock, SystemClock};

/// The wall clock, which expiry follows here as it does in Redis.
fn wall() -> OffsetDateTime {
    SystemClock.now()
}

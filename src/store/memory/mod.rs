//! In-process state for the embedded mode (book § Run the service): rate limits, lockout counters and
//! pending MFA logins in bounded TTL caches (lost on restart, as book § Run the service allows), and
//! change notifications as an in-process broadcast. Expiry follows the clock each is
//! made with (the application's), so tests advance a `FixedClock` instead of waiting.

mod changes;
mod limits;
mod mfa_tokens;

pub use changes::LocalChanges;
pub use limits::MemoryLimits;
pub use mfa_tokens::MemoryMfaTokens;

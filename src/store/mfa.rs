//! TOTP enrolments and recovery codes (RFC 6238).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::UserId;

/// A user's TOTP enrolment as stored.
#[derive(Debug, Clone)]
pub struct TotpRow {
    pub secret_sealed: Vec<u8>,
    pub confirmed: bool,
    pub last_step: i64,
}

/// TOTP secrets and recovery codes (RFC 6238).
#[async_trait]
pub trait MfaStore: Send + Sync {
    async fn totp(&self, user: UserId) -> Result<Option<TotpRow>, StoreError>;
    /// Stores a pending secret (replacing a pending one); false if TOTP is already confirmed.
    async fn set_pending_totp(
        &self,
        user: UserId,
        secret_sealed: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Accepts time step `step` once: only if it is later than every step accepted before.
    /// With `confirm`, also marks the secret confirmed. `notice` (the security notice of TOTP
    /// turned on, which the caller gives only when confirming) is written in the same
    /// transaction when the step is accepted.
    async fn use_step(
        &self,
        user: UserId,
        step: i64,
        confirm: bool,
        now: OffsetDateTime,
        notice: Option<&super::OutboxMessage>,
    ) -> Result<bool, StoreError>;
    /// Replaces every recovery code of `user`.
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        codes_sha256: &[[u8; 32]],
    ) -> Result<(), StoreError>;
    /// Uses a recovery code once.
    async fn use_recovery_code(
        &self,
        user: UserId,
        code_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Removes TOTP and recovery codes, and writes `notice` in the same transaction when
    /// there was TOTP to remove.
    async fn delete_totp(
        &self,
        user: UserId,
        notice: Option<&super::OutboxMessage>,
    ) -> Result<(), StoreError>;
}

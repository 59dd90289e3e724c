//! Email links (book § Email): verifying an address and moving an account to a new one,
//! by the SHA-256 of the link's token. Using a link and the change it makes are one
//! transaction: the link is spent only when the change happens.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{OutboxMessage, StoreError};
use crate::domain::{Email, UserId};

/// What a link does when it is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Marks the address it was sent to verified, if the account still has it.
    Verify,
    /// Moves the account to the address it was sent to, which becomes verified.
    Change,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Verify => "verify",
            LinkPurpose::Change => "change",
        }
    }

    pub fn parse(stored: &str) -> Result<Self, StoreError> {
        match stored {
            "verify" => Ok(LinkPurpose::Verify),
            "change" => Ok(LinkPurpose::Change),
            other => Err(StoreError::Other(anyhow::anyhow!(
                "unknown email link purpose {other:?}"
            ))),
        }
    }
}

/// A link to store: its token's digest, whose it is, what it does, the address it was
/// sent to, and when it stops working.
#[derive(Debug, Clone)]
pub struct NewEmailLink {
    pub token_sha256: [u8; 32],
    pub user: UserId,
    pub purpose: LinkPurpose,
    pub email: Email,
    pub expires_at: OffsetDateTime,
}

/// An unused, unexpired link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLink {
    pub user: UserId,
    pub purpose: LinkPurpose,
    pub email: Email,
}

/// What following a link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkUse {
    /// The change was made and the link spent.
    Applied,
    /// Unknown, used, expired, or the account moved on since (its address is no longer
    /// the one the link expects): nothing changed.
    Invalid,
    /// A change link whose address another account took since: nothing changed, the
    /// link is spent.
    Taken,
}

#[async_trait]
pub trait EmailLinkStore: Send + Sync {
    /// Stores `link` and, in the same transaction, the outbox `message` that delivers it.
    async fn create_email_link(
        &self,
        link: &NewEmailLink,
        message: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The unused, unexpired link of a digest.
    async fn find_email_link(
        &self,
        token_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<EmailLink>, StoreError>;
    /// Follows a link, in one transaction: spends it and, while the account's address is
    /// still `current`, makes its change. A change link also moves the account, ends every
    /// other link and password reset link of the user, and writes `notice` (the old
    /// address is told).
    async fn use_email_link(
        &self,
        token_sha256: [u8; 32],
        current: &Email,
        notice: Option<&OutboxMessage>,
        now: OffsetDateTime,
    ) -> Result<LinkUse, StoreError>;
    /// Sets whether the user's address is verified (an operator's word); false if there is
    /// no such user.
    async fn set_email_verified(
        &self,
        user: UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

//! Accounts (book § Endpoints, book § Configuration).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::UserId;
use crate::domain::{Email, User};

/// A user to create (the email already normalized, the password already hashed), under
/// an id the caller chose (a message written with the user names it).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub name: Option<String>,
    pub email_verified: bool,
    pub password_hash: String,
    /// The address's verification link and its message, written with the user.
    pub welcome: Option<Welcome>,
    /// The upstream identity the user signed up with, linked in the same transaction.
    pub identity: Option<super::Identity>,
}

/// A new user's verification link and the outbox message that delivers it.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub link: super::NewEmailLink,
    pub message: super::OutboxMessage,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("a user with this email exists")]
    Duplicate,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(
        &self,
        user: NewUser,
        now: OffsetDateTime,
    ) -> Result<User, CreateUserError>;
    async fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// Sets a new password hash (a reset: the old one is not known), and marks the address
    /// verified: the reset link was followed from it. False if no such user.
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
        notice: Option<&super::OutboxMessage>,
    ) -> Result<bool, StoreError>;
    /// Deletes the user; false if there was none.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
    /// Replaces the hash only if it is still `old` (a concurrent change wins). `notice`
    /// (here and in `set_password_hash`): the security notice the change sends, written
    /// in its transaction when it happens.
    async fn replace_password_hash(
        &self,
        id: UserId,
        old: &str,
        new: &str,
        now: OffsetDateTime,
        notice: Option<&super::OutboxMessage>,
    ) -> Result<bool, StoreError>;
}

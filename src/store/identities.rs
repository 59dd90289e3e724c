//! Upstream identities (book § Upstream providers): which tessera user an identity at an
//! upstream provider (its id and the upstream's subject) signs in as.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{ProviderId, UserId};

/// One link: the upstream identity `(provider, subject)` signs in as `user_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Its own id (`GET|DELETE /api/v1/me/identities/{id}`).
    pub id: String,
    pub user_id: UserId,
    pub provider: ProviderId,
    /// The upstream's subject for the user (`sub`, or the claim the provider maps).
    pub subject: String,
    /// The email the upstream gave when the link was made, for the user's list.
    pub email: Option<String>,
    pub linked_at: OffsetDateTime,
}

/// What `IdentityStore::unlink_identity` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    Done,
    /// The user has no such link.
    NotFound,
    /// It is the user's last way to sign in (no password, no passkey, no other link).
    LastWay,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The link of `(provider, subject)`, if any.
    async fn find_identity(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Option<Identity>, StoreError>;
    /// Writes a link; false (nothing written) when `(provider, subject)` is linked already.
    async fn link_identity(&self, identity: &Identity) -> Result<bool, StoreError>;
    /// The user's links, oldest first.
    async fn user_identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError>;
    /// Removes the user's link `id` in one statement, unless it is the user's last way
    /// to sign in.
    async fn unlink_identity(&self, user: UserId, id: &str) -> Result<Unlinked, StoreError>;
}

/// The condition, in SQL over the parameters `user` and `id` (numbered by the caller's
/// dialect), under which a link may go: the user keeps a password, a passkey or another link.
pub fn another_way(user: &str, id: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM users WHERE id = {user} AND password_hash <> '{none}') \
          OR EXISTS (SELECT 1 FROM passkeys WHERE user_id = {user}) \
          OR EXISTS (SELECT 1 FROM upstream_identities WHERE user_id = {user} AND id <> {id}))",
        none = crate::domain::NO_PASSWORD
    )
}

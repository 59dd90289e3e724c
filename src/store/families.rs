//! Refresh-token families: one login session each (RFC 9068, book § Endpoints, book § Configuration).

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::FamilyId;
use crate::domain::UserId;

/// One login session: the refresh-token family (RFC 9068, book § Endpoints). Its times
/// are stored to the second.
#[derive(Debug, Clone)]
pub struct Family {
    /// The session id (`sid` claim): a one-way digest of the family's secret handle.
    pub id: FamilyId,
    pub user_id: UserId,
    pub client_id: String,
    pub scope: String,
    pub auth_time: OffsetDateTime,
    pub amr: Vec<String>,
    pub created_at: OffsetDateTime,
    pub absolute_expiry: OffsetDateTime,
}

/// Where a session was started (shown in the session list), and the DPoP key of the
/// request that started it.
#[derive(Debug, Clone, Default)]
pub struct SessionMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The thumbprint of the key the request's DPoP proof was signed with (RFC 9449): the
    /// session's access tokens are bound to it, and a public client's refresh tokens too
    /// (the grants record it in the session's method list, not here).
    pub dpop_jkt: Option<String>,
}

/// A session as its user sees it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: FamilyId,
    pub client_id: String,
    pub created_at: OffsetDateTime,
    pub last_used: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session that a revocation ended: what the revocation feed says of it (book § Verifying tokens in other services).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub id: FamilyId,
    pub client_id: String,
    /// Whose session it was (the logout token's `sub`).
    pub user_id: UserId,
}

/// What a refresh attempt found.
#[derive(Debug)]
pub enum Rotation {
    /// The presented token was current; it is retired and `next` is current now.
    Rotated(Family),
    /// The presented token was retired within the grace window by the rotation that made
    /// the (derived) next token current: answer with that token again.
    Grace(Family),
    /// An older token of this family was presented: the family is gone.
    Reused(Family),
    /// Unknown, expired, revoked, foreign, or not a token of this family.
    Rejected,
}

/// One refresh request's parameters for `FamilyStore::rotate`.
#[derive(Debug)]
pub struct RotateRequest<'a> {
    pub family_id: &'a FamilyId,
    pub presented: &'a [u8; 32],
    pub next: &'a [u8; 32],
    /// The client that must own the family: every rotation checks it.
    pub client_id: &'a str,
    pub now: OffsetDateTime,
    /// A family unused this long is gone.
    pub idle_ttl: Duration,
    /// How long a just-retired token still answers with its successor.
    pub grace: Duration,
}

#[async_trait]
pub trait FamilyStore: Send + Sync {
    /// Stores a new family; `current` is its refresh token's hash (`None`: a session
    /// without refresh tokens, kept for `ttl` so its access tokens can be revoked).
    async fn create_family(
        &self,
        family: &Family,
        meta: &SessionMeta,
        current: Option<&[u8; 32]>,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The user's live sessions (dead entries of the per-user index are dropped).
    async fn list_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError>;
    /// Revokes every session of `user` except `keep`; returns those that were alive.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&FamilyId>,
        now: OffsetDateTime,
    ) -> Result<Vec<Ended>, StoreError>;
    /// Revokes every session (refresh family) issued to `client_id`; returns those that
    /// were alive.
    async fn revoke_client_sessions(
        &self,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Ended>, StoreError>;
    /// Atomically checks the presented token against the family and rotates, answers a
    /// retry within the grace window, or detects reuse and deletes the family.
    async fn rotate(&self, request: RotateRequest<'_>) -> Result<Rotation, StoreError>;
    /// Ends the family and drops its index entries; with `client_id`, only if that client
    /// owns it. Callers holding a presented token have proved they hold the family's
    /// secret handle (its `sid` is derived from it). Returns the session if it was alive.
    async fn revoke_family(
        &self,
        family_id: &FamilyId,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<Ended>, StoreError>;
    /// The family, if it is alive.
    async fn find_family(
        &self,
        family_id: &FamilyId,
        now: OffsetDateTime,
    ) -> Result<Option<Family>, StoreError>;
    /// Whether `hash` is the family's current refresh token.
    async fn is_current(
        &self,
        family_id: &FamilyId,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

//! What the authorization-code flow keeps (book § Sign-in with the authorization-code flow): browser sign-in (SSO) sessions,
//! authorization codes and remembered consents.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::FamilyId;
use crate::domain::UserId;

/// A browser sign-in session behind the `tessera_sso` cookie (`<id>.<secret>`). Only the
/// SHA-256 of the secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    pub id: String,
    pub user_id: UserId,
    pub secret_sha256: [u8; 32],
    /// When the user last proved who they are (`auth_time` of the ID tokens).
    #[serde(with = "time::serde::timestamp")]
    pub auth_time: OffsetDateTime,
    pub amr: Vec<String>,
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait SsoStore: Send + Sync {
    /// Stores a new session until its `expires_at`.
    async fn create_sso(&self, session: &SsoSession) -> Result<(), StoreError>;
    /// The live session `id`, if any (the caller compares the secret).
    async fn find_sso(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError>;
    /// Records that refresh family `family_id` was started under session `id`.
    async fn add_sso_family(
        &self,
        id: &str,
        family_id: &FamilyId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Ends session `id`; returns the families started under it (to end them too).
    async fn end_sso(&self, id: &str, now: OffsetDateTime) -> Result<Vec<FamilyId>, StoreError>;
    /// Ends every session of `user`; returns how many there were.
    async fn end_user_sso(&self, user: UserId, now: OffsetDateTime) -> Result<usize, StoreError>;
    /// The user's live sessions, newest first.
    async fn list_sso(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SsoSession>, StoreError>;
}

/// What an authorization code stands for (book § Sign-in with the authorization-code flow): everything the token request must
/// match, and what the tokens will carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    /// The authorization request carried `redirect_uri`: the token request must carry the
    /// identical value (RFC 6749 §4.1.3).
    #[serde(default)]
    pub redirect_uri_sent: bool,
    /// The S256 `code_challenge` (base64url of SHA-256 of the verifier).
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub scope: String,
    pub sso_id: String,
    pub user_id: UserId,
    #[serde(with = "time::serde::timestamp")]
    pub auth_time: OffsetDateTime,
    pub amr: Vec<String>,
}

/// What taking a code found.
#[derive(Debug, PartialEq, Eq)]
pub enum CodeTake {
    /// First use: the code, now spent.
    Fresh(AuthCode),
    /// Spent before: the family its tokens started, if they were issued (to revoke).
    Replayed(Option<FamilyId>),
    Unknown,
}

/// How long a spent code is remembered, so a replay can still revoke what it issued (RFC
/// 6749 §4.1.2): past the code's own 60 s and the longest access token it could have
/// issued (1 h; its refresh token is protected by rotation's reuse detection after that).
pub const SPENT_CODE_MEMORY: Duration = Duration::from_secs(60 + 3600 + 60);

#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a code by the SHA-256 of its value for `ttl`.
    async fn put_code(
        &self,
        digest: &[u8; 32],
        code: &AuthCode,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Spends a code: `Fresh` for exactly one caller; any later call is `Replayed`.
    async fn take_code(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<CodeTake, StoreError>;
    /// Records the family a spent code's tokens started. False if the code was replayed
    /// meanwhile: the caller then ends that family itself.
    async fn record_code_family(
        &self,
        digest: &[u8; 32],
        family_id: &FamilyId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

/// Scopes a user allowed a client that is not first-party (book § Sign-in with the authorization-code flow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    pub client_id: String,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Adds `scopes` to what `user` allowed `client_id`.
    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn find_consent(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<Consent>, StoreError>;
    async fn list_consents(&self, user: UserId) -> Result<Vec<Consent>, StoreError>;
    /// False if there was none.
    async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool, StoreError>;
}

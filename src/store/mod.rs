//! Storage traits between domain logic and the backends (lldap style): a second backend
//! (the planned embedded mode) is a second `impl`, not `if`s across the code.

pub mod cache;
mod rewrap;
pub use rewrap::{Resealer, RewrapError, RewrapReport, SealedItem};
pub mod postgres;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::crypto::{KeyState, SigningAlg};
use crate::domain::{Client, ClientId, Email, NewClient, User};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached now; callers answer 503 and retry later.
    #[error("{backend} unavailable")]
    Unavailable {
        backend: &'static str,
        #[source]
        source: anyhow::Error,
    },
    /// A stored row violates an invariant (e.g. an unknown state string).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// A signing key as stored: the private key only in sealed form.
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: SigningAlg,
    pub state: KeyState,
    pub private_sealed: Vec<u8>,
    pub public_jwk: Map<String, Value>,
    pub created_at: OffsetDateTime,
    pub activated_at: Option<OffsetDateTime>,
    pub retiring_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A freshly generated key to insert (sealed already).
#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub private_sealed: Vec<u8>,
    pub public_jwk: Map<String, Value>,
}

/// Persistence of the key ring (SPEC S3). Each method is atomic and serialized across
/// instances sharing the backend.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key that is not retired, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError>;

    /// For `alg`, inserts `active` if no key is active and `next` if none is next.
    /// Returns whether anything was inserted.
    async fn fill_missing_keys(
        &self,
        alg: SigningAlg,
        active: NewSigningKey,
        next: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Promotes `next` to `active`, moves the old `active` to `retiring` and stores
    /// `new_next`. With `due_before`, only if the active key was activated before it (the
    /// scheduled rotation: whichever instance gets there first rotates, the others see it
    /// done). Returns the kid that is now active, or `None` when not due.
    async fn rotate(
        &self,
        alg: SigningAlg,
        new_next: NewSigningKey,
        due_before: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError>;

    /// Emergency revocation (SPEC S3): the key is retired and marked revoked at once. If it
    /// was `active`, `next` is promoted; if it was `active` or `next`, `replacement` (a key
    /// of the same algorithm, when given) becomes the new `next`.
    async fn revoke(
        &self,
        kid: &str,
        replacement: Option<NewSigningKey>,
        now: OffsetDateTime,
    ) -> Result<KeyRevocation, StoreError>;

    /// Makes an imported key the `next` key of its algorithm (it signs from the following
    /// rotation on). The `next` key it replaces never signed and is retired.
    async fn import_next(
        &self,
        key: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<KeyImport, StoreError>;

    /// A number that changes with every change to the key ring (instances poll it).
    async fn version(&self) -> Result<i64, StoreError>;
}

/// What `KeyStore::import_next` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyImport {
    /// Imported as `next`, replacing this kid (if there was a next key).
    Imported { replaced: Option<String> },
    /// A key with this kid is already stored.
    AlreadyKnown,
}

/// What `KeyStore::revoke` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRevocation {
    /// Revoked; it was in this state. `promoted` is the kid that became active, if any.
    Revoked {
        was: KeyState,
        promoted: Option<String>,
    },
    AlreadyRevoked,
    NotFound,
}

/// An auth or admin event for the audit trail (SPEC S10).
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub event_type: &'static str,
    pub actor: Option<String>,
    pub user_id: Option<uuid::Uuid>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: &'static str,
    pub detail: Value,
}

/// A stored audit event.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Increasing; pass the last one seen as `before` to page back in time.
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The admin token label, `cli`, `scheduler`, or none for end-user events.
    pub actor: Option<String>,
    pub user_id: Option<uuid::Uuid>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// Filters for reading the trail, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<uuid::Uuid>,
    pub event_type: Option<String>,
    pub since: Option<OffsetDateTime>,
    /// Only events with a smaller id (keyset pagination).
    pub before: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, event: AuditEvent, at: OffsetDateTime) -> Result<(), StoreError>;
    async fn list_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Password reset tokens (SPEC S7), by the SHA-256 of the token.
#[async_trait]
pub trait ResetStore: Send + Sync {
    async fn create_reset(
        &self,
        token_sha256: [u8; 32],
        user: uuid::Uuid,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The user of an unused, unexpired token (without using it).
    async fn find_reset(
        &self,
        token_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<uuid::Uuid>, StoreError>;
    /// Uses the token: succeeds once, for an unused, unexpired token of a live user.
    async fn consume_reset(
        &self,
        token_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<uuid::Uuid>, StoreError>;
    /// Makes every outstanding reset token of `user` unusable (a completed reset or a
    /// password change, SPEC S7); returns how many.
    async fn revoke_user_resets(
        &self,
        user: uuid::Uuid,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;
}

/// A user's TOTP enrolment as stored.
#[derive(Debug, Clone)]
pub struct TotpRow {
    pub secret_sealed: Vec<u8>,
    pub confirmed: bool,
    pub last_step: i64,
}

/// TOTP secrets and recovery codes (SPEC S8).
#[async_trait]
pub trait MfaStore: Send + Sync {
    async fn totp(&self, user: uuid::Uuid) -> Result<Option<TotpRow>, StoreError>;
    /// Stores a pending secret (replacing a pending one); false if TOTP is already confirmed.
    async fn set_pending_totp(
        &self,
        user: uuid::Uuid,
        secret_sealed: &[u8],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Accepts time step `step` once: only if it is later than every step accepted before.
    /// With `confirm`, also marks the secret confirmed.
    async fn use_step(
        &self,
        user: uuid::Uuid,
        step: i64,
        confirm: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Replaces every recovery code of `user`.
    async fn replace_recovery_codes(
        &self,
        user: uuid::Uuid,
        codes_sha256: &[[u8; 32]],
    ) -> Result<(), StoreError>;
    /// Uses a recovery code once.
    async fn use_recovery_code(
        &self,
        user: uuid::Uuid,
        code_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Removes TOTP and recovery codes.
    async fn delete_totp(&self, user: uuid::Uuid) -> Result<(), StoreError>;
}

/// Short-lived single-use MFA login tokens (SPEC S5, S6), by SHA-256.
#[async_trait]
pub trait MfaTokenStore: Send + Sync {
    async fn put_mfa_token(
        &self,
        digest: &str,
        value: &str,
        ttl_secs: u64,
    ) -> Result<(), StoreError>;
    async fn get_mfa_token(&self, digest: &str) -> Result<Option<String>, StoreError>;
    /// Takes it away: `Some` for exactly one caller.
    async fn take_mfa_token(&self, digest: &str) -> Result<Option<String>, StoreError>;
}

/// A change other instances must act on at once (SPEC S3 propagation; client caches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The key ring changed: reload it.
    Keys,
    /// A client changed or was deleted: drop it from caches.
    Client(ClientId),
}

impl Change {
    pub fn to_message(&self) -> String {
        match self {
            Change::Keys => "keys".to_owned(),
            Change::Client(id) => format!("client:{id}"),
        }
    }

    pub fn from_message(message: &str) -> Option<Self> {
        match message.split_once(':') {
            None if message == "keys" => Some(Change::Keys),
            Some(("client", id)) => ClientId::parse(id).ok().map(Change::Client),
            _ => None,
        }
    }
}

/// Announces changes to every instance sharing the backend.
#[async_trait]
pub trait ChangeBus: Send + Sync {
    async fn publish(&self, change: &Change) -> Result<(), StoreError>;
}

/// One rate-limiter hit (SPEC S9), times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub remaining: u32,
    /// Until the limiter is fully replenished.
    pub reset_ms: u64,
    /// When refused: until the next request would be allowed.
    pub retry_after_ms: u64,
}

/// Lockout policy for `LimitStore::login_attempt` (SPEC S9).
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Consecutive failures from one network that lock the account for that network.
    pub threshold: u32,
    pub base_secs: u64,
    pub max_secs: u64,
    /// Attempts per `ceiling_period_secs` from networks the account has not signed in from
    /// recently, across all of them (0: no ceiling).
    pub ceiling: u32,
    pub ceiling_period_secs: u64,
}

/// Shared, atomic abuse counters (SPEC S9): every instance sees the same counts.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts a request against `key` (GCRA: `limit` per `period_ms`, bursts up to
    /// `limit`), or refuses it.
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        period_ms: u64,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError>;
    /// Counts a password attempt on `account` from `network` before it is checked; answers
    /// `Some(retry_after_secs)` when the account is locked for that network (or this
    /// attempt locked it), or the account's ceiling is reached and `network` is not one it
    /// signed in from within the remembered time.
    async fn login_attempt(
        &self,
        account: &str,
        network: &str,
        policy: LockoutPolicy,
        now: i64,
    ) -> Result<Option<u64>, StoreError>;
    /// A successful login from `network`: its count and lock are gone, and the network is
    /// remembered as the account's for `remember_secs` (exempt from the ceiling).
    async fn login_succeeded(
        &self,
        account: &str,
        network: &str,
        remember_secs: u64,
    ) -> Result<(), StoreError>;
    /// A reset or an operator unlock: every network's count and lock, and the ceiling.
    async fn clear_lockout(&self, account: &str) -> Result<(), StoreError>;
}

/// A backend that readiness checks can ping.
#[async_trait]
pub trait Ping: Send + Sync {
    fn name(&self) -> &'static str;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// A user to create (the email already normalized, the password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: Option<String>,
    pub email_verified: bool,
    pub password_hash: String,
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
    async fn find_user(&self, id: uuid::Uuid) -> Result<Option<User>, StoreError>;
    /// Sets a new password hash (a reset: the old one is not known). False if no such user.
    async fn set_password_hash(
        &self,
        id: uuid::Uuid,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Deletes the user; false if there was none.
    async fn delete_user(&self, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Replaces the hash only if it is still `old` (a concurrent change wins).
    async fn replace_password_hash(
        &self,
        id: uuid::Uuid,
        old: &str,
        new: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn create_client(
        &self,
        id: &ClientId,
        client: NewClient,
        secret_sha256: Option<[u8; 32]>,
        now: OffsetDateTime,
    ) -> Result<Client, StoreError>;
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    /// Clients ordered by id, starting after `after` (keyset pagination).
    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: usize,
    ) -> Result<Vec<Client>, StoreError>;
    /// Stores the editable fields of `client` (name, first_party, grants, scopes,
    /// audiences, redirect URIs). Returns false if the client is gone.
    async fn update_client(&self, client: &Client, now: OffsetDateTime)
        -> Result<bool, StoreError>;
    /// Replaces a confidential client's secret digest. False if no such confidential client.
    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError>;
    /// Forgets anything cached about `id` (a change announced by another instance).
    fn invalidate(&self, _id: &ClientId) {}
}

/// One login session: the refresh-token family (SPEC S4). Times are Unix seconds.
#[derive(Debug, Clone)]
pub struct Family {
    /// The session id (`sid` claim): a one-way digest of the family's secret handle.
    pub id: String,
    pub user_id: uuid::Uuid,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub absolute_expiry: i64,
}

/// Where a session was started (shown in the session list).
#[derive(Debug, Clone, Default)]
pub struct SessionMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session as its user sees it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: String,
    pub client_id: String,
    pub created_at: i64,
    pub last_used: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
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
    pub family_id: &'a str,
    pub presented: &'a [u8; 32],
    pub next: &'a [u8; 32],
    /// The client that must own the family: every rotation checks it.
    pub client_id: &'a str,
    pub now: i64,
    pub idle_ttl_secs: i64,
    pub grace_secs: i64,
}

#[async_trait]
pub trait FamilyStore: Send + Sync {
    /// Stores a new family; `current` is its refresh token's hash (`None`: a session
    /// without refresh tokens, kept for `ttl_secs` so its access tokens can be revoked).
    async fn create_family(
        &self,
        family: &Family,
        meta: &SessionMeta,
        current: Option<&[u8; 32]>,
        ttl_secs: i64,
    ) -> Result<(), StoreError>;
    /// The user's live sessions (dead entries of the per-user index are dropped).
    async fn list_sessions(&self, user: uuid::Uuid) -> Result<Vec<SessionInfo>, StoreError>;
    /// Revokes every session of `user` except `keep`; returns how many.
    async fn revoke_user_sessions(
        &self,
        user: uuid::Uuid,
        keep: Option<&str>,
    ) -> Result<usize, StoreError>;
    /// Revokes every session (refresh family) issued to `client_id`; returns how many.
    async fn revoke_client_sessions(&self, client_id: &str) -> Result<usize, StoreError>;
    /// Atomically checks the presented token against the family and rotates, answers a
    /// retry within the grace window, or detects reuse and deletes the family.
    async fn rotate(&self, request: RotateRequest<'_>) -> Result<Rotation, StoreError>;
    /// Ends the family and drops its index entries; with `client_id`, only if that client
    /// owns it. Callers holding a presented token have proved they hold the family's
    /// secret handle (its `sid` is derived from it).
    async fn revoke_family(
        &self,
        family_id: &str,
        client_id: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// The family, if it is alive.
    async fn find_family(&self, family_id: &str) -> Result<Option<Family>, StoreError>;
    /// Whether `hash` is the family's current refresh token.
    async fn is_current(&self, family_id: &str, hash: &[u8; 32]) -> Result<bool, StoreError>;
}

/// What is known about an access token's revocation (SPEC S4), read in one round trip.
#[derive(Debug, Default)]
pub struct TokenState {
    pub blocklisted: bool,
    /// For user tokens: whether the session (refresh family) still exists.
    pub session_alive: Option<bool>,
    /// Tokens of this user issued before this time (Unix s) are invalid.
    pub cutoff: Option<i64>,
}

#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Blocklists an access token's `jti` for the rest of its lifetime.
    async fn blocklist(&self, jti: &str, ttl_secs: i64) -> Result<(), StoreError>;
    /// Invalidates every access token of `user` issued before `at` (O(1)).
    async fn set_cutoff(&self, user: uuid::Uuid, at: i64, ttl_secs: i64) -> Result<(), StoreError>;
    async fn token_state(
        &self,
        jti: &str,
        sid: Option<&str>,
        user: Option<uuid::Uuid>,
    ) -> Result<TokenState, StoreError>;
}

/// The backends the application talks to, behind their traits.
#[derive(Clone)]
pub struct Stores {
    pub keys: Arc<dyn KeyStore>,
    pub users: Arc<dyn UserStore>,
    pub clients: Arc<dyn ClientStore>,
    pub families: Arc<dyn FamilyStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub audit: Arc<dyn AuditStore>,
    pub changes: Arc<dyn ChangeBus>,
    pub limits: Arc<dyn LimitStore>,
    pub resets: Arc<dyn ResetStore>,
    pub mfa: Arc<dyn MfaStore>,
    pub mfa_tokens: Arc<dyn MfaTokenStore>,
    pub health: Vec<Arc<dyn Ping>>,
}

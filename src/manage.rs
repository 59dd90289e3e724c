//! Operator actions shared by the CLI and the admin API (SPEC S3, S12, S14): key rotation
//! and revocation, clients with server-generated secrets, users, imports with bcrypt or
//! argon2 hashes. Each change is announced to the other instances and audited with the
//! operator who made it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;

use serde_json::json;

use crate::auth::hashing::{importable_hash, PasswordHasher};
use crate::auth::policy;
use crate::config::Settings;
use crate::crypto::{KeyRing, KeyRingError, SigningAlg};
use crate::domain::{Client, ClientId, Email, GrantType, NewClient, Password, Scope};
use crate::error::ApiError;
use crate::store::{
    AuditEvent, Change, CreateUserError, KeyImport, KeyRevocation, NewUser, StoreError, Stores,
};

/// Client JSON (SPEC S14); `client_secret` only when created or rotated.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub name: String,
    pub grant_types: Vec<GrantType>,
    pub audiences: Vec<String>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
}

impl ClientView {
    pub fn new(client: &Client, secret: Option<String>) -> Self {
        ClientView {
            client_id: client.id.to_string(),
            client_secret: secret,
            name: client.name.clone(),
            grant_types: client.grant_types.clone(),
            audiences: client.audiences.clone(),
            scopes: client.scopes.clone(),
            redirect_uris: client.redirect_uris.clone(),
            public: client.public,
            first_party: client.first_party,
        }
    }
}

/// Why an operator action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Bad input: the message says what to change.
    #[error("{0}")]
    Invalid(String),
    #[error("no such resource")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
    #[error(transparent)]
    Hash(#[from] crate::auth::hashing::HashError),
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(description) => ApiError::BadRequest {
                code: "invalid_request",
                description,
                fields: Vec::new(),
            },
            ManageError::NotFound => ApiError::NotFound,
            ManageError::Conflict(description) => ApiError::Conflict("conflict", description),
            ManageError::Store(e) => e.into(),
            ManageError::KeyRing(KeyRingError::Store(e)) => e.into(),
            ManageError::KeyRing(e) => ApiError::Internal(e.into()),
            ManageError::Hash(crate::auth::hashing::HashError::Busy) => {
                ApiError::Unavailable("password hashing")
            }
            ManageError::Hash(e) => ApiError::Internal(e.into()),
        }
    }
}

/// Who did it and when, for the audit trail.
#[derive(Debug, Clone)]
pub struct Operator {
    pub actor: String,
    pub now: OffsetDateTime,
}

async fn audit(stores: &Stores, operator: &Operator, event: AuditEvent) {
    let event = event.actor(operator.actor.clone());
    crate::audit::record_at(stores, event, operator.now).await;
}

async fn announce(stores: &Stores, change: Change) {
    if let Err(e) = stores.changes.publish(&change).await {
        // peers catch up through the version poll (keys) or the cache TTL (clients)
        tracing::warn!(error = %e, change = %change.to_message(), "could not announce a change; peers catch up by polling or cache expiry");
    }
}

/// Rotates every enabled algorithm, or only `alg`.
pub async fn rotate_keys(
    keyring: &KeyRing,
    stores: &Stores,
    alg: Option<&str>,
    operator: &Operator,
) -> Result<Vec<(SigningAlg, String)>, ManageError> {
    let alg = alg.map(|name| enabled_alg(keyring, name)).transpose()?;
    let rotated = keyring.rotate(alg).await?;
    rotated_keys(stores, operator, &rotated).await;
    Ok(rotated)
}

/// Imports a PEM private key (S3: `keys/` is its mount point) as the `next` key of its
/// algorithm: published now, signing from the following rotation. Returns the kid.
pub async fn import_key(
    keyring: &KeyRing,
    stores: &Stores,
    alg: Option<&str>,
    pem: Vec<u8>,
    operator: &Operator,
) -> Result<String, ManageError> {
    let alg = alg.map(|name| enabled_alg(keyring, name)).transpose()?;
    let (kid, alg, outcome) = keyring.import(alg, pem).await.map_err(|e| match e {
        KeyRingError::Import(message) => ManageError::Invalid(message),
        other => other.into(),
    })?;
    let KeyImport::Imported { replaced } = outcome else {
        return Err(ManageError::Conflict("this key is already in the key ring"));
    };
    announce(stores, Change::Keys).await;
    let detail = json!({ "kid": kid, "alg": alg, "replaced_next": replaced });
    audit(
        stores,
        operator,
        AuditEvent::new("key_imported", "ok").detail(detail),
    )
    .await;
    Ok(kid)
}

/// Announces a rotation to the other instances and audits it (operators and the schedule).
pub async fn rotated_keys(stores: &Stores, operator: &Operator, rotated: &[(SigningAlg, String)]) {
    announce(stores, Change::Keys).await;
    let detail = json!({
        "rotated": rotated.iter().map(|(alg, kid)| json!({"alg": alg, "active_kid": kid})).collect::<Vec<_>>(),
    });
    audit(
        stores,
        operator,
        AuditEvent::new("key_rotated", "ok").detail(detail),
    )
    .await;
}

fn enabled_alg(keyring: &KeyRing, name: &str) -> Result<SigningAlg, ManageError> {
    let enabled = || {
        keyring
            .enabled_algs()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let alg: SigningAlg = name.parse().map_err(|()| {
        ManageError::Invalid(format!(
            "unsupported algorithm {name:?}; allowed: {}",
            enabled()
        ))
    })?;
    if !keyring.enabled_algs().contains(&alg) {
        return Err(ManageError::Invalid(format!(
            "{alg} is not enabled (TESSERA_SIGNING_ALGS); allowed: {}",
            enabled()
        )));
    }
    Ok(alg)
}

/// Emergency revocation of `kid`; returns the kid promoted to active, if any.
pub async fn revoke_key(
    keyring: &KeyRing,
    stores: &Stores,
    kid: &str,
    operator: &Operator,
) -> Result<Option<String>, ManageError> {
    if kid.is_empty() || kid.len() > 128 {
        return Err(ManageError::NotFound);
    }
    match keyring.revoke(kid).await? {
        KeyRevocation::NotFound => Err(ManageError::NotFound),
        KeyRevocation::AlreadyRevoked => Err(ManageError::Conflict("this key is already revoked")),
        KeyRevocation::Revoked { was, promoted } => {
            announce(stores, Change::Keys).await;
            tracing::warn!(kid, state = was.as_str(), promoted = ?promoted, "signing key revoked");
            let detail = json!({ "kid": kid, "was": was, "promoted": promoted });
            audit(
                stores,
                operator,
                AuditEvent::new("key_revoked", "ok").detail(detail),
            )
            .await;
            Ok(promoted)
        }
    }
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Longest list in a client definition.
const MAX_LIST: usize = 32;

/// Checks a client definition; every problem is listed.
pub fn validate_client(new: &NewClient) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if new.name.trim().is_empty()
        || new.name.chars().count() > 200
        || new.name.chars().any(char::is_control)
    {
        problems.push("name must be 1 to 200 characters, none a control character".to_owned());
    }
    if new.grant_types.is_empty() {
        problems.push("at least one grant is required".to_owned());
    }
    if new.public && new.grant_types.contains(&GrantType::ClientCredentials) {
        problems.push("a public client cannot use client_credentials".to_owned());
    }
    if new
        .scopes
        .iter()
        .any(|s| s.len() > 128 || Scope::parse(s).map_or(true, |p| p.iter().count() != 1))
    {
        problems.push("each scope must be one scope token of at most 128 characters".to_owned());
    }
    for (name, len) in [
        ("grant_types", new.grant_types.len()),
        ("scopes", new.scopes.len()),
        ("audiences", new.audiences.len()),
        ("redirect_uris", new.redirect_uris.len()),
    ] {
        if len > MAX_LIST {
            problems.push(format!("at most {MAX_LIST} {name}"));
        }
    }
    if new
        .audiences
        .iter()
        .any(|a| a.is_empty() || a.len() > 256 || a.chars().any(char::is_control))
    {
        problems.push("audiences must be 1 to 256 characters, none a control character".to_owned());
    }
    if new
        .redirect_uris
        .iter()
        .any(|u| u.len() > 2048 || url::Url::parse(u).map_or(true, |u| u.fragment().is_some()))
    {
        problems.push(
            "redirect URIs must be absolute URLs of at most 2048 characters without a fragment"
                .to_owned(),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Creates a client; a confidential one gets a 32-byte secret, returned once.
pub async fn create_client(
    stores: &Stores,
    new: NewClient,
    operator: &Operator,
) -> Result<(Client, Option<String>), ManageError> {
    validate_client(&new).map_err(|p| ManageError::Invalid(p.join("; ")))?;
    let id = ClientId::parse(&format!("c_{}", random_b64(12)))
        .map_err(|e| ManageError::Invalid(e.into()))?;
    let secret = (!new.public).then(|| random_b64(32));
    let digest = secret.as_deref().map(secret_digest);
    let client = stores
        .clients
        .create_client(&id, new, digest, operator.now)
        .await?;
    audit(
        stores,
        operator,
        AuditEvent::new("client_created", "ok").client(id.as_str()),
    )
    .await;
    Ok((client, secret))
}

fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Editable fields of a client; absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub first_party: Option<bool>,
    pub grant_types: Option<Vec<GrantType>>,
    pub scopes: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
    pub redirect_uris: Option<Vec<String>>,
}

pub fn parse_client_id(id: &str) -> Result<ClientId, ManageError> {
    ClientId::parse(id).map_err(|_| ManageError::NotFound)
}

async fn existing_client(stores: &Stores, id: &ClientId) -> Result<Client, ManageError> {
    stores
        .clients
        .find_client(id)
        .await?
        .ok_or(ManageError::NotFound)
}

/// Applies `patch` (validated as a whole, as on creation).
pub async fn update_client(
    stores: &Stores,
    id: &str,
    patch: ClientPatch,
    operator: &Operator,
) -> Result<Client, ManageError> {
    let id = parse_client_id(id)?;
    let mut client = existing_client(stores, &id).await?;
    if let Some(name) = patch.name {
        client.name = name;
    }
    if let Some(first_party) = patch.first_party {
        client.first_party = first_party;
    }
    if let Some(grants) = patch.grant_types {
        client.grant_types = grants;
    }
    if let Some(scopes) = patch.scopes {
        client.scopes = scopes;
    }
    if let Some(audiences) = patch.audiences {
        client.audiences = audiences;
    }
    if let Some(uris) = patch.redirect_uris {
        client.redirect_uris = uris;
    }
    validate_client(&NewClient {
        name: client.name.clone(),
        public: client.public,
        first_party: client.first_party,
        grant_types: client.grant_types.clone(),
        scopes: client.scopes.clone(),
        audiences: client.audiences.clone(),
        redirect_uris: client.redirect_uris.clone(),
    })
    .map_err(|p| ManageError::Invalid(p.join("; ")))?;
    if !stores.clients.update_client(&client, operator.now).await? {
        return Err(ManageError::NotFound);
    }
    client_changed(
        stores,
        operator,
        &id,
        AuditEvent::new("client_updated", "ok"),
    )
    .await;
    Ok(client)
}

/// Tells the other instances to drop `id` from their caches and audits the change.
async fn client_changed(stores: &Stores, operator: &Operator, id: &ClientId, event: AuditEvent) {
    announce(stores, Change::Client(id.clone())).await;
    audit(stores, operator, event.client(id.as_str())).await;
}

/// A new secret for a confidential client, shown once; the old one stops working at once
/// here and on other instances as soon as they hear of it.
pub async fn rotate_client_secret(
    stores: &Stores,
    id: &str,
    operator: &Operator,
) -> Result<(Client, String), ManageError> {
    let id = parse_client_id(id)?;
    let client = existing_client(stores, &id).await?;
    if client.public {
        return Err(ManageError::Conflict("a public client has no secret"));
    }
    let secret = random_b64(32);
    if !stores
        .clients
        .set_client_secret(&id, secret_digest(&secret), operator.now)
        .await?
    {
        return Err(ManageError::NotFound);
    }
    client_changed(
        stores,
        operator,
        &id,
        AuditEvent::new("client_secret_rotated", "ok"),
    )
    .await;
    Ok((client, secret))
}

/// Deletes a client and ends every session issued to it; returns how many ended.
pub async fn delete_client(
    stores: &Stores,
    id: &str,
    operator: &Operator,
) -> Result<usize, ManageError> {
    let id = parse_client_id(id)?;
    if !stores.clients.delete_client(&id).await? {
        return Err(ManageError::NotFound);
    }
    // no instance may start new sessions for it before its families are swept
    announce(stores, Change::Client(id.clone())).await;
    let ended = stores.families.revoke_client_sessions(id.as_str()).await?;
    audit(
        stores,
        operator,
        AuditEvent::new("client_deleted", "ok")
            .client(id.as_str())
            .detail(json!({ "sessions_revoked": ended })),
    )
    .await;
    Ok(ended)
}

async fn existing_user(
    stores: &Stores,
    id: uuid::Uuid,
) -> Result<crate::domain::User, ManageError> {
    stores
        .users
        .find_user(id)
        .await?
        .ok_or(ManageError::NotFound)
}

/// Ends every session of `user` and invalidates the access tokens issued so far.
pub async fn revoke_user_sessions(
    stores: &Stores,
    settings: &Settings,
    user: uuid::Uuid,
    operator: &Operator,
) -> Result<usize, ManageError> {
    existing_user(stores, user).await?;
    let ended =
        crate::revocation::end_user_sessions(stores, settings, user, None, operator.now).await?;
    audit(
        stores,
        operator,
        AuditEvent::new("user_sessions_revoked", "ok")
            .user(user)
            .detail(json!({ "sessions_revoked": ended })),
    )
    .await;
    Ok(ended)
}

/// Clears a user's failed-login count and any lock (SPEC S9, S12).
pub async fn unlock_user(
    stores: &Stores,
    user: uuid::Uuid,
    operator: &Operator,
) -> Result<(), ManageError> {
    let found = existing_user(stores, user).await?;
    crate::abuse::clear_lockout(stores, &found.email).await?;
    audit(
        stores,
        operator,
        AuditEvent::new("user_unlocked", "ok").user(user),
    )
    .await;
    Ok(())
}

/// Deletes a user after ending their sessions and access tokens.
pub async fn delete_user(
    stores: &Stores,
    settings: &Settings,
    user: uuid::Uuid,
    operator: &Operator,
) -> Result<usize, ManageError> {
    existing_user(stores, user).await?;
    // sessions first: a failure leaves the account in place to retry, never a live
    // session of a deleted user
    let ended =
        crate::revocation::end_user_sessions(stores, settings, user, None, operator.now).await?;
    if !stores.users.delete_user(user).await? {
        return Err(ManageError::NotFound);
    }
    audit(
        stores,
        operator,
        AuditEvent::new("user_deleted", "ok")
            .user(user)
            .detail(json!({ "sessions_revoked": ended })),
    )
    .await;
    Ok(ended)
}

/// A user to create by an operator.
pub struct UserRequest {
    pub email: String,
    pub password: Password,
    pub name: Option<String>,
    pub email_verified: bool,
}

/// Creates a user with a password that passes the policy.
pub async fn create_user(
    stores: &Stores,
    hasher: &PasswordHasher,
    request: UserRequest,
    min_bytes: usize,
    operator: &Operator,
) -> Result<crate::domain::User, ManageError> {
    let email = Email::parse(&request.email).map_err(|e| ManageError::Invalid(e.into()))?;
    let name = crate::domain::display_name(request.name.as_deref())
        .map_err(|e| ManageError::Invalid(format!("name {e}")))?;
    let problems = policy::check(&request.password, &email, name.as_deref(), min_bytes);
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .into_iter()
            .map(|p| format!("password {}", p.message))
            .collect();
        return Err(ManageError::Invalid(list.join("; ")));
    }
    let password_hash = hasher.hash(request.password).await?;
    let user = NewUser {
        email,
        name,
        email_verified: request.email_verified,
        password_hash,
    };
    match stores.users.create_user(user, operator.now).await {
        Ok(user) => {
            audit(
                stores,
                operator,
                AuditEvent::new("user_created", "ok").user(user.id),
            )
            .await;
            Ok(user)
        }
        Err(CreateUserError::Duplicate) => {
            Err(ManageError::Conflict("a user with this email exists"))
        }
        Err(CreateUserError::Store(e)) => Err(e.into()),
    }
}

/// One line of an import file (SPEC S14).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    email: String,
    password_hash: String,
    name: Option<String>,
    email_verified: Option<bool>,
}

/// What an import did: lines imported and each refused line with its reason.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub imported: usize,
    pub errors: Vec<ImportError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportError {
    pub line: usize,
    pub error: String,
}

/// Imports JSON lines; a bad line is reported by number and the rest still imported.
pub async fn import_users(stores: &Stores, jsonl: &str, operator: &Operator) -> ImportReport {
    let mut report = ImportReport::default();
    for (index, raw) in jsonl.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        match import_line(stores, raw, operator.now).await {
            Ok(()) => report.imported += 1,
            Err(error) => report.errors.push(ImportError {
                line: index + 1,
                error,
            }),
        }
    }
    let detail = json!({ "imported": report.imported, "refused": report.errors.len() });
    audit(
        stores,
        operator,
        AuditEvent::new("users_imported", "ok").detail(detail),
    )
    .await;
    report
}

async fn import_line(stores: &Stores, raw: &str, now: OffsetDateTime) -> Result<(), String> {
    let line: ImportLine = serde_json::from_str(raw).map_err(|e| {
        format!(
            "not a valid import object: {}",
            e.to_string().split(" at line").next().unwrap_or_default()
        )
    })?;
    let email = Email::parse(&line.email).map_err(str::to_owned)?;
    importable_hash(&line.password_hash).map_err(|reason| format!("password_hash {reason}"))?;
    let name =
        crate::domain::display_name(line.name.as_deref()).map_err(|e| format!("name {e}"))?;
    let user = NewUser {
        email,
        name,
        email_verified: line.email_verified.unwrap_or(false),
        password_hash: line.password_hash,
    };
    match stores.users.create_user(user, now).await {
        Ok(_) => Ok(()),
        Err(CreateUserError::Duplicate) => Err("a user with this email exists".into()),
        Err(CreateUserError::Store(e)) => {
            tracing::warn!(error = %e, "user import line failed in storage");
            Err("storage unavailable; retry this line".into())
        }
    }
}

//! Operator actions shared by the CLI and (later) the admin API (SPEC S12, S14): creating
//! clients with server-generated secrets, creating users, importing users with bcrypt or
//! argon2 hashes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::hashing::{is_importable_hash, PasswordHasher};
use crate::auth::policy;
use crate::domain::{Client, ClientId, Email, GrantType, NewClient, Password, Scope};
use crate::store::{CreateUserError, NewUser, Stores};

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

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Checks a client definition; every problem is listed.
pub fn validate_client(new: &NewClient) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if new.name.trim().is_empty() || new.name.chars().count() > 200 {
        problems.push("name must be 1 to 200 characters".to_owned());
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
        .any(|s| Scope::parse(s).map_or(true, |p| p.iter().count() != 1))
    {
        problems.push("each scope must be one scope token".to_owned());
    }
    if new.audiences.iter().any(|a| a.is_empty() || a.len() > 256) {
        problems.push("audiences must be 1 to 256 characters".to_owned());
    }
    if new
        .redirect_uris
        .iter()
        .any(|u| url::Url::parse(u).map_or(true, |u| u.fragment().is_some()))
    {
        problems.push("redirect URIs must be absolute URLs without a fragment".to_owned());
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
    now: OffsetDateTime,
) -> anyhow::Result<(Client, Option<String>)> {
    validate_client(&new).map_err(|p| anyhow::anyhow!(p.join("; ")))?;
    let id = ClientId::parse(&format!("c_{}", random_b64(12))).map_err(|e| anyhow::anyhow!(e))?;
    let secret = (!new.public).then(|| random_b64(32));
    let digest = secret
        .as_ref()
        .map(|s| <[u8; 32]>::from(Sha256::digest(s.as_bytes())));
    let client = stores.clients.create_client(&id, new, digest, now).await?;
    Ok((client, secret))
}

/// Creates a user with a password that passes the policy.
pub async fn create_user(
    stores: &Stores,
    hasher: &PasswordHasher,
    email: &str,
    password: Password,
    min_bytes: usize,
    now: OffsetDateTime,
) -> anyhow::Result<uuid::Uuid> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!(e))?;
    let problems = policy::check(&password, &email, None, min_bytes);
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .into_iter()
            .map(|p| format!("password {}", p.message))
            .collect();
        anyhow::bail!(list.join("; "));
    }
    let password_hash = hasher.hash(password).await?;
    let user = NewUser {
        email,
        name: None,
        email_verified: false,
        password_hash,
    };
    match stores.users.create_user(user, now).await {
        Ok(user) => Ok(user.id),
        Err(CreateUserError::Duplicate) => anyhow::bail!("a user with this email exists"),
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
pub async fn import_users(stores: &Stores, jsonl: &str, now: OffsetDateTime) -> ImportReport {
    let mut report = ImportReport::default();
    for (index, raw) in jsonl.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        match import_line(stores, raw, now).await {
            Ok(()) => report.imported += 1,
            Err(error) => report.errors.push(ImportError {
                line: index + 1,
                error,
            }),
        }
    }
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
    if !is_importable_hash(&line.password_hash) {
        return Err("password_hash must be a bcrypt ($2a$/$2b$/$2y$) or argon2 PHC hash".into());
    }
    let name = line
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty() && n.chars().count() <= 200);
    let user = NewUser {
        email,
        name,
        email_verified: line.email_verified.unwrap_or(false),
        password_hash: line.password_hash,
    };
    match stores.users.create_user(user, now).await {
        Ok(_) => Ok(()),
        Err(CreateUserError::Duplicate) => Err("a user with this email exists".into()),
        Err(CreateUserError::Store(e)) => Err(format!("storage failed: {e}")),
    }
}

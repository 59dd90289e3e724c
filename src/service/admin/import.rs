//! User import (book § Configuration, book § Command line): JSON lines with bcrypt or argon2 hashes within the cost
//! bounds; each line reported on its own.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use serde_json::json;

use crate::auth::hashing::importable_hash;
use crate::domain::Email;
use crate::store::{AuditEvent, CreateUserError, NewUser, Stores};

use super::{audit, Operator};
use crate::domain::UserId;

/// One line of a user-import file (README: "Command line", `tessera users import`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportLine {
    email: String,
    /// bcrypt (`$2a$`/`$2b$`/`$2y$`) or argon2 PHC.
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
        id: UserId::generate(),
        welcome: None,
        identity: None,
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

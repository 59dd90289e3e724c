//! User actions shared by the CLI and the admin API (SPEC S7, S12): creation with the
//! password policy, session revocation, unlock and deletion, audited.

use serde_json::json;

use crate::auth::hashing::PasswordHasher;
use crate::auth::policy;
use crate::config::Settings;
use crate::domain::{Email, Password};
use crate::store::{AuditEvent, CreateUserError, NewUser, Stores};

use super::{audit, ManageError, Operator};

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
        crate::service::revocations::end_user_sessions(stores, settings, user, None, operator.now)
            .await?;
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
    crate::service::abuse::clear_lockout(stores, &found.email).await?;
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
        crate::service::revocations::end_user_sessions(stores, settings, user, None, operator.now)
            .await?;
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

//! User actions shared by the CLI and the admin API (book § Configuration, book § Endpoints): creation with the
//! password policy, session revocation, unlock and deletion, audited.

use serde_json::json;

use crate::auth::hashing::PasswordHasher;
use crate::config::Settings;
use crate::store::{AuditEvent, Stores};

use super::{audit, ManageError, Operator};
use crate::domain::UserId;
use crate::service::accounts::{self, AccountError, AccountRequest};

/// The user with this id, or `NotFound`.
pub async fn existing_user(
    stores: &Stores,
    id: UserId,
) -> Result<crate::domain::User, ManageError> {
    stores
        .users
        .find_user(id)
        .await?
        .ok_or(ManageError::NotFound)
}

/// The user with this email, if any (normalized as at login).
pub async fn find_by_email(
    stores: &Stores,
    email: &crate::domain::Email,
) -> Result<Option<crate::domain::User>, ManageError> {
    Ok(stores.users.find_user_by_email(email).await?)
}

/// What ending a user's sessions goes on to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Only the sessions (and every access token issued so far) end.
    Sessions,
    /// The account is deleted after its sessions end.
    Account,
}

/// Ends every session of `user` and invalidates the access tokens issued so far; with
/// `Ending::Account` then deletes the user. Returns how many sessions ended.
pub async fn end_user(
    stores: &Stores,
    settings: &Settings,
    user: UserId,
    ending: Ending,
    operator: &Operator,
) -> Result<usize, ManageError> {
    existing_user(stores, user).await?;
    // sessions first: a failure leaves the account in place to retry, never a live
    // session of a deleted user
    let now = operator.now;
    let ended =
        crate::service::sessions::end_user_sessions(stores, settings, user, None, now).await?;
    let event_type = match ending {
        Ending::Sessions => "user_sessions_revoked",
        Ending::Account if stores.users.delete_user(user).await? => "user_deleted",
        Ending::Account => return Err(ManageError::NotFound),
    };
    let event = AuditEvent::new(event_type, "ok")
        .user(user)
        .detail(json!({ "sessions_revoked": ended }));
    audit(stores, operator, event).await;
    Ok(ended)
}

/// Clears a user's failed-login count and any lock (book § Configuration, book § Endpoints).
pub async fn unlock_user(
    stores: &Stores,
    user: UserId,
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

/// Marks the user's address verified or not (book § Email): the operator vouches for it,
/// or takes it back. Answers the user as changed.
pub async fn set_email_verified(
    stores: &Stores,
    user: UserId,
    verified: bool,
    operator: &Operator,
) -> Result<crate::domain::User, ManageError> {
    if !stores
        .email_links
        .set_email_verified(user, verified, operator.now)
        .await?
    {
        return Err(ManageError::NotFound);
    }
    let event = AuditEvent::new("email_verified_set", "ok")
        .user(user)
        .detail(json!({ "email_verified": verified }));
    audit(stores, operator, event).await;
    existing_user(stores, user).await
}

/// The user's passkeys (book § Passkeys), oldest first.
pub async fn user_passkeys(
    stores: &Stores,
    user: UserId,
) -> Result<Vec<crate::store::StoredPasskey>, ManageError> {
    existing_user(stores, user).await?;
    Ok(stores.passkeys.user_passkeys(user).await?)
}

/// The user's links to upstream providers, oldest first.
pub async fn user_identities(
    stores: &Stores,
    user: UserId,
) -> Result<Vec<crate::store::Identity>, ManageError> {
    existing_user(stores, user).await?;
    Ok(stores.identities.user_identities(user).await?)
}

/// Deletes one of the user's passkeys (a lost device, say); audited. The user's sessions
/// go on: `revoke-sessions` ends them.
pub async fn delete_user_passkey(
    stores: &Stores,
    user: UserId,
    passkey: crate::domain::PasskeyId,
    outbox: &crate::service::outbox::Outbox,
    operator: &Operator,
) -> Result<(), ManageError> {
    let owner = existing_user(stores, user).await?;
    let notice = outbox
        .notice(
            &owner,
            crate::notify::NoticeKind::PasskeyRemoved,
            operator.now,
        )
        .map_err(|e| ManageError::Internal(e.into()))?;
    if !stores
        .passkeys
        .delete_passkey(user, passkey, Some(&notice))
        .await?
    {
        return Err(ManageError::NotFound);
    }
    outbox.wake();
    let event = AuditEvent::new("passkey_deleted", "ok")
        .user(user)
        .detail(json!({ "passkey": passkey }));
    audit(stores, operator, event).await;
    Ok(())
}

/// Creates a user with a password that passes the policy (the one account-creation
/// path; see `service::accounts`), reporting problems as one message for operators.
pub async fn create_user(
    stores: &Stores,
    hasher: &PasswordHasher,
    request: AccountRequest,
    min_bytes: usize,
    operator: &Operator,
) -> Result<crate::domain::User, ManageError> {
    accounts::create(stores, hasher, request, min_bytes, operator, |_, _| {
        Ok(None)
    })
    .await
    .map_err(|e| match e {
        AccountError::Invalid(problems) => {
            let list: Vec<String> = problems
                .into_iter()
                .map(|p| match p.field.as_str() {
                    "email" => p.message,
                    field => format!("{field} {}", p.message),
                })
                .collect();
            ManageError::Invalid(list.join("; "))
        }
        AccountError::Taken(_) => ManageError::Conflict("a user with this email exists"),
        AccountError::Hash(e) => e.into(),
        AccountError::Store(e) => e.into(),
    })
}

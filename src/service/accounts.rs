//! Creating accounts (book § Endpoints, book § Configuration), written once for self-registration through the JSON
//! API, the admin API and the CLI: the email, name and password policy checked together
//! (every problem at once), the password hashed on the pool, the user stored, and the
//! creation audited with who did it.

use crate::auth::hashing::{HashError, PasswordHasher};
use crate::auth::policy;
use crate::domain::{Email, FieldError, Password, User, UserId};
use crate::store::{AuditEvent, CreateUserError, NewUser, StoreError, Stores, Welcome};

use super::audit::Operator;

/// An account to create, as the caller received it.
pub struct AccountRequest {
    pub email: String,
    pub password: Password,
    pub name: Option<String>,
    pub email_verified: bool,
    /// The caller's address, for the audit trail (self-registration).
    pub ip: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Input the policy refuses; one entry per problem (`email`, `name`, `password`).
    #[error("the account is invalid")]
    Invalid(Vec<FieldError>),
    /// The (normalized) address has an account.
    #[error("an account with this email exists")]
    Taken(Email),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks, hashes, stores and audits a new account; `welcome` gives the verification link
/// (and its message) to write with it, if any. A duplicate email costs the same hashing
/// work as a new one, so timing does not tell which emails exist.
pub async fn create(
    stores: &Stores,
    hasher: &PasswordHasher,
    request: AccountRequest,
    min_password_bytes: usize,
    operator: &Operator,
    welcome: impl FnOnce(UserId, &Email) -> Result<Option<Welcome>, StoreError>,
) -> Result<User, AccountError> {
    let mut problems = Vec::new();
    let email = Email::parse(&request.email)
        .map_err(|e| problems.push(field("email", e)))
        .ok();
    let name = crate::domain::display_name(request.name.as_deref())
        .map_err(|e| problems.push(field("name", e)))
        .ok()
        .flatten();
    if let Some(email) = &email {
        problems.extend(policy::check(
            &request.password,
            email,
            name.as_deref(),
            min_password_bytes,
        ));
    }
    let Some(email) = email.filter(|_| problems.is_empty()) else {
        return Err(AccountError::Invalid(problems));
    };
    let password_hash = hasher.hash(request.password).await?;
    let id = UserId::generate();
    let new = NewUser {
        id,
        welcome: welcome(id, &email)?,
        identity: None,
        email: email.clone(),
        name,
        email_verified: request.email_verified,
        password_hash,
    };
    match stores.users.create_user(new, operator.now).await {
        Ok(user) => {
            let event = AuditEvent::new("user_created", "ok")
                .actor(operator.actor.clone())
                .user(user.id)
                .ip(request.ip);
            super::audit::record_at(stores, event, operator.now).await;
            tracing::info!(user_id = %user.id, actor = %operator.actor, "account created");
            Ok(user)
        }
        Err(CreateUserError::Duplicate) => Err(AccountError::Taken(email)),
        Err(CreateUserError::Store(e)) => Err(e.into()),
    }
}

/// Self-registration (`POST /api/v1/accounts`).
impl From<AccountError> for crate::domain::Failure {
    fn from(e: AccountError) -> Self {
        use crate::domain::Failure;
        match e {
            AccountError::Invalid(fields) => Failure::Invalid {
                code: "invalid_request",
                description: "the registration is invalid".into(),
                fields,
            },
            AccountError::Taken(_) => {
                Failure::Conflict("email_taken", "an account with this email exists")
            }
            AccountError::Hash(e) => e.into(),
            AccountError::Store(e) => e.into(),
        }
    }
}

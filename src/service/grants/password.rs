//! Password authentication (SPEC S5 `password` grant, S6 login, S7): one generic failure
//! for unknown users and wrong passwords, with the same work done for both; hashes are
//! upgraded (bcrypt, old argon2 parameters) after a successful check.

use crate::auth::hashing::{HashError, Verified};
use crate::domain::OAuthError;
use crate::domain::{Client, Email, GrantType, Password, User};
use crate::service::abuse::{self, Bucket};
use crate::state::AppState;
use crate::store::{AuditEvent, SessionMeta, StoreError};
use serde_json::json;

use super::{resolve_scope, start_session, TokenResponse};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("invalid email or password")]
    WrongPassword(uuid::Uuid),
    /// No such user: answered exactly like a wrong password, told apart only in the
    /// audit trail and metrics.
    #[error("invalid email or password")]
    UnknownUser,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoginError> for OAuthError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials
            | LoginError::WrongPassword(_)
            | LoginError::UnknownUser => OAuthError::InvalidGrant("invalid email or password"),
            LoginError::Hash(e) => e.into(),
            LoginError::Store(e) => e.into(),
        }
    }
}

/// The user whose email and password these are.
pub async fn verify_credentials(
    state: &AppState,
    email: &Email,
    password: Password,
) -> Result<User, LoginError> {
    if password.len() > crate::domain::password::MAX_PASSWORD_BYTES {
        return Err(LoginError::InvalidCredentials);
    }
    if state.hasher.is_saturated() {
        return Err(LoginError::Hash(HashError::Busy));
    }
    let user = state.stores.users.find_user_by_email(email).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state.hasher.verify(password, stored).await?;
    match (user, verified) {
        (Some(mut user), Verified::Yes { rehash }) => {
            if let Some(new_hash) = rehash {
                let now = state.clock.now();
                if let Err(e) = state
                    .stores
                    .users
                    .replace_password_hash(user.id, &user.password_hash, &new_hash, now)
                    .await
                {
                    tracing::warn!(user_id = %user.id, error = %e, "could not upgrade the password hash; will retry at next login");
                } else {
                    tracing::info!(user_id = %user.id, "password hash upgraded");
                    user.password_hash = new_hash;
                }
            }
            Ok(user)
        }
        (None, _) => Err(LoginError::UnknownUser),
        (Some(user), _) => Err(LoginError::WrongPassword(user.id)),
    }
}

/// `grant_type=password`: first-party clients only.
pub async fn grant(
    state: &AppState,
    client: &Client,
    username: &str,
    password: Password,
    scope: Option<&str>,
    meta: &SessionMeta,
) -> Result<TokenResponse, OAuthError> {
    if !client.first_party || !client.allows(GrantType::Password) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the password grant",
        ));
    }
    let scope = resolve_scope(client, scope)?;
    let email =
        Email::parse(username).map_err(|e| OAuthError::InvalidRequest(format!("username: {e}")))?;
    let ip = meta.ip.as_deref();
    abuse::check(state, Bucket::LoginPerIp, ip.unwrap_or_default()).await?;
    abuse::login_attempt(state, &email, ip).await?;
    let user = match verify_credentials(state, &email, password).await {
        Ok(user) => user,
        Err(e) => {
            login_failed(state, client, meta, &e).await;
            return Err(e.into());
        }
    };
    if crate::service::mfa::is_enabled(state, &user).await? {
        let pending = crate::service::mfa::PendingLogin {
            user_id: user.id,
            password: crate::service::mfa::password_fingerprint(&user),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
        };
        let token = crate::service::mfa::issue_mfa_token(state, &pending).await?;
        // the failure count is cleared only by a complete login: a known password must not
        // reset the allowance for guessing the second factor
        return Err(OAuthError::MfaRequired(token));
    }
    abuse::login_succeeded(state, &email, ip).await;
    let tokens = start_session(state, client, &user, &scope, vec!["pwd".into()], meta).await?;
    crate::metrics::token_issued("password");
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(client.id.as_str())
        .ip(meta.ip.clone())
        .detail(json!({ "amr": ["pwd"] }));
    crate::service::audit::record(state, event).await;
    Ok(tokens)
}

/// Counts and audits a failed login. The attempted email is not kept (an unknown one
/// could be a user's password typed into the wrong field); a known account is named by id.
async fn login_failed(state: &AppState, client: &Client, meta: &SessionMeta, error: &LoginError) {
    let (reason, user) = match error {
        LoginError::InvalidCredentials => ("invalid_credentials", None),
        LoginError::WrongPassword(user) => ("wrong_password", Some(*user)),
        LoginError::UnknownUser => ("unknown_user", None),
        LoginError::Hash(crate::auth::hashing::HashError::Busy) => ("overloaded", None),
        LoginError::Hash(_) | LoginError::Store(_) => ("unavailable", None),
    };
    crate::metrics::login_failed(reason);
    if matches!(error, LoginError::Hash(_) | LoginError::Store(_)) {
        return;
    }
    let mut event = AuditEvent::new("login_failed", "denied")
        .client(client.id.as_str())
        .ip(meta.ip.clone())
        .detail(json!({ "reason": reason }));
    if let Some(user) = user {
        event = event.user(user);
    }
    crate::service::audit::record(state, event).await;
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("the new password is not acceptable")]
    Policy(Vec<crate::domain::FieldError>),
    #[error("the password was changed concurrently")]
    Concurrent,
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Changes a user's password (SPEC S6): needs the current one; ends every other session
/// and invalidates every access token issued before now (the per-user cutoff).
pub async fn change_password(
    state: &AppState,
    user: &User,
    current: Password,
    new: Password,
    keep_session: &str,
) -> Result<(), ChangeError> {
    match state
        .hasher
        .verify(current, Some(user.password_hash.clone()))
        .await?
    {
        Verified::Yes { .. } => {}
        Verified::No => return Err(ChangeError::WrongPassword),
    }
    let problems = crate::auth::policy::check(
        &new,
        &user.email,
        user.name.as_deref(),
        state.settings.password.min_bytes,
    );
    if !problems.is_empty() {
        return Err(ChangeError::Policy(problems));
    }
    let new_hash = state.hasher.hash(new).await?;
    let now = state.clock.now();
    if !state
        .stores
        .users
        .replace_password_hash(user.id, &user.password_hash, &new_hash, now)
        .await?
    {
        return Err(ChangeError::Concurrent);
    }
    // outstanding reset links stop working; pending MFA logins are bound to the old hash
    state.stores.resets.revoke_user_resets(user.id, now).await?;
    let ended = crate::service::revocations::end_user_sessions(
        &state.stores,
        &state.settings,
        user.id,
        Some(keep_session),
        now,
    )
    .await?;
    tracing::info!(user_id = %user.id, other_sessions_ended = ended, "password changed");
    Ok(())
}

/// `grant_type=urn:tessera:grant-type:mfa-otp` (SPEC S5) and the SPA's
/// `POST /api/v1/session/mfa`: completes a password login with a TOTP code or a recovery
/// code. Wrong codes count toward the account's lockout; the MFA token is used up only by
/// a success, so a typo does not restart the login. With `client` (the token endpoint) the
/// login must be that client's; without (the SPA endpoint) it continues with the client
/// the password login used.
pub async fn mfa_grant(
    state: &AppState,
    client: Option<&Client>,
    mfa_token: &str,
    otp: Option<&str>,
    recovery_code: Option<&str>,
    ip: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    const INVALID: OAuthError = OAuthError::InvalidGrant("mfa_token is invalid or expired");
    let pending = crate::service::mfa::peek_mfa_token(state, mfa_token)
        .await?
        .ok_or(INVALID)?;
    let client = match client {
        Some(c) if c.id.as_str() == pending.client_id => c.clone(),
        Some(_) => return Err(INVALID),
        None => {
            let id = crate::domain::ClientId::parse(&pending.client_id).map_err(|_| INVALID)?;
            state
                .stores
                .clients
                .find_client(&id)
                .await?
                .filter(|c| c.is_spa_client())
                .ok_or(INVALID)?
        }
    };
    let client = &client;
    // a password change or reset since the password step voids the pending login
    let user = state
        .stores
        .users
        .find_user(pending.user_id)
        .await?
        .filter(|u| crate::service::mfa::password_fingerprint(u) == pending.password)
        .ok_or(INVALID)?;
    abuse::login_attempt(state, &user.email, ip.as_deref()).await?;
    match crate::service::mfa::verify(state, &user, otp, recovery_code).await {
        Ok(()) => {}
        Err(crate::service::mfa::MfaError::Store(e)) => return Err(e.into()),
        Err(_) => {
            crate::metrics::login_failed("wrong_otp");
            let event = AuditEvent::new("mfa_failed", "denied")
                .user(user.id)
                .client(client.id.as_str())
                .ip(ip);
            crate::service::audit::record(state, event).await;
            return Err(OAuthError::InvalidGrant("the code is not valid"));
        }
    }
    if !crate::service::mfa::take_mfa_token(state, mfa_token).await? {
        return Err(INVALID);
    }
    abuse::login_succeeded(state, &user.email, ip.as_deref()).await;
    let scope = crate::domain::Scope::parse(&pending.scope)
        .map_err(|_| OAuthError::InvalidScope("the login's scope is no longer valid".into()))?;
    let meta = SessionMeta {
        ip: pending.ip.clone(),
        user_agent: pending.user_agent.clone(),
    };
    let amr = vec!["pwd".to_owned(), "otp".to_owned()];
    let tokens = start_session(state, client, &user, &scope, amr, &meta).await?;
    crate::metrics::token_issued("mfa_otp");
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(client.id.as_str())
        .ip(meta.ip)
        .detail(json!({ "amr": ["pwd", "otp"] }));
    crate::service::audit::record(state, event).await;
    Ok(tokens)
}

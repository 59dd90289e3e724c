//! Password reset (book § Endpoints, book § Configuration): a request always answers the same way at the same speed
//! (the work happens after the answer), a token is 32 random bytes stored as SHA-256,
//! single use and short-lived, and a completed reset ends every session and access token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::auth::hashing::HashError;
use crate::domain::{Email, Password};
use crate::notify::ResetMessage;
use crate::state::AppState;
use crate::store::{AuditEvent, ResetUse, StoreError};

const PREFIX: &str = "tsp_";

/// A new token and its digest.
fn new_token() -> (SecretString, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let digest = Sha256::digest(token.as_bytes()).into();
    (SecretString::from(token), digest)
}

/// The digest of a well-formed token, or `None`.
fn digest_of(presented: &str) -> Option<[u8; 32]> {
    let body = presented.strip_prefix(PREFIX)?;
    let raw = URL_SAFE_NO_PAD.decode(body).ok()?;
    (raw.len() == 32).then(|| Sha256::digest(presented.as_bytes()).into())
}

/// Issues and delivers a token if `email` names an account; does nothing otherwise. Run
/// after the request was answered, so its timing tells nothing.
pub async fn request(state: &AppState, email: Email, ip: Option<String>) {
    if let Err(e) = issue(state, &email, ip).await {
        tracing::warn!(error = %e, "password reset request failed");
    }
}

async fn issue(state: &AppState, email: &Email, ip: Option<String>) -> Result<(), StoreError> {
    let Some(user) = state.stores.users.find_user_by_email(email).await? else {
        return Ok(());
    };
    let (token, digest) = new_token();
    let now = state.clock.now();
    let expires_at = now + state.settings.notify.reset_ttl;
    state
        .stores
        .resets
        .create_reset(digest, user.id, expires_at, now)
        .await?;
    let message = ResetMessage {
        user_id: user.id,
        email: user.email.as_str().to_owned(),
        token,
        expires_at,
    };
    let outcome = match state.notifier.password_reset(&message).await {
        Ok(()) => "sent",
        Err(e) => {
            tracing::warn!(user_id = %user.id, error = %e, "password reset not delivered");
            "not_delivered"
        }
    };
    let event = AuditEvent::new("password_reset_requested", outcome)
        .user(user.id)
        .ip(ip);
    state.audit.record(event).await;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Malformed, unknown, used, expired, or its user is gone: one answer for all.
    #[error("the reset token is invalid or expired")]
    InvalidToken,
    #[error("the new password is not acceptable")]
    Policy(Vec<crate::domain::FieldError>),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets a new password with a reset token; ends every session, invalidates every access
/// token issued before now and clears any lockout. The token is used only once the new
/// password is known to be acceptable, so a policy mistake does not burn it.
pub async fn complete(
    state: &AppState,
    presented: &str,
    new_password: Password,
    ip: Option<String>,
) -> Result<crate::domain::UserId, ResetError> {
    let digest = digest_of(presented).ok_or(ResetError::InvalidToken)?;
    let now = state.clock.now();
    let user_id = state
        .stores
        .resets
        .use_reset(digest, ResetUse::Find, now)
        .await?
        .ok_or(ResetError::InvalidToken)?;
    let user = state
        .stores
        .users
        .find_user(user_id)
        .await?
        .ok_or(ResetError::InvalidToken)?;
    let problems = crate::auth::policy::check(
        &new_password,
        &user.email,
        user.name.as_deref(),
        state.settings.password.min_bytes,
    );
    if !problems.is_empty() {
        return Err(ResetError::Policy(problems));
    }
    let hash = state.hasher.hash(new_password).await?;
    // the single use: of two concurrent resets with one token, one gets here
    if state
        .stores
        .resets
        .use_reset(digest, ResetUse::Consume, now)
        .await?
        != Some(user.id)
    {
        return Err(ResetError::InvalidToken);
    }
    if !state
        .stores
        .users
        .set_password_hash(user.id, &hash, now)
        .await?
    {
        return Err(ResetError::InvalidToken);
    }
    // every other reset link of this user dies with this one; pending MFA logins die
    // with the old password hash they are bound to
    state.stores.resets.revoke_user_resets(user.id, now).await?;
    let ended = crate::service::revocations::end_user_sessions(
        &state.stores,
        &state.settings,
        user.id,
        None,
        now,
    )
    .await?;
    if let Err(e) = crate::service::abuse::clear_lockout(&state.stores, &user.email).await {
        tracing::warn!(user_id = %user.id, error = %e, "could not clear the lockout after a reset");
    }
    tracing::info!(user_id = %user.id, sessions_ended = ended, "password reset");
    let event = AuditEvent::new("password_reset_completed", "ok")
        .user(user.id)
        .ip(ip)
        .detail(serde_json::json!({ "sessions_revoked": ended }));
    state.audit.record(event).await;
    Ok(user.id)
}

impl From<ResetError> for crate::domain::Failure {
    fn from(e: ResetError) -> Self {
        use crate::domain::Failure;
        match e {
            ResetError::InvalidToken => Failure::invalid(
                "invalid_token",
                "the reset token is invalid, used or expired",
            ),
            ResetError::Policy(fields) => Failure::Invalid {
                code: "invalid_request",
                description: "the new password is not acceptable".into(),
                fields,
            },
            ResetError::Hash(e) => e.into(),
            ResetError::Store(e) => e.into(),
        }
    }
}

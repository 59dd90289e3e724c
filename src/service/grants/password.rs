//! The `password` grant (RFC 6749, README § Endpoints; the SPA login of S6 uses it too): first-party clients
//! only; lockout counted before the check, one generic failure for unknown users and wrong
//! passwords; users with TOTP get an `mfa_token` for the mfa-otp grant instead of tokens.

use crate::domain::OAuthError;
use crate::domain::{Client, Email, GrantType, Password};
use crate::service::abuse::{self, Bucket};
use crate::service::passwords::{verify_credentials, LoginError};
use crate::state::AppState;
use crate::store::{AuditEvent, SessionMeta};
use serde_json::json;

use super::{resolve_scope, start_session, TokenResponse};

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
    let user = authenticate(state, client, username, password, &scope, meta).await?;
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

/// The password step of every password login (this grant, the SPA API, the hosted sign-in
/// page): the address's rate limit, the account's lockout counted before the check, one
/// generic failure for unknown users and wrong passwords. A user with TOTP gets
/// `MfaRequired` with a token for the second step, which `scope` and `client` are kept for.
pub async fn authenticate(
    state: &AppState,
    client: &Client,
    username: &str,
    password: Password,
    scope: &crate::domain::Scope,
    meta: &SessionMeta,
) -> Result<crate::domain::User, OAuthError> {
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
    Ok(user)
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

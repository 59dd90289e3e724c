//! The `password` grant (RFC 6749 §4.3, book § Endpoints; the SPA's session login uses it
//! too): first-party clients only. Authentication is `signin::authenticate::Authenticator::password`, the
//! one use-case the hosted sign-in page shares; a user with TOTP gets an `mfa_token` for
//! the mfa-otp grant instead of tokens.

use serde_json::json;

use super::Grants;
use crate::domain::{Client, GrantType, OAuthError, Password};
use crate::service::signin::authenticate::Authenticated;
use crate::store::{AuditEvent, SessionMeta};

use super::{resolve_scope, start_session, TokenResponse};

/// What a password login gives.
#[derive(Debug)]
pub enum Answer {
    Tokens(TokenResponse),
    /// The password was right and the user has a second factor: continue with the
    /// mfa-otp grant (or `POST /api/v1/session/mfa`) and this token.
    SecondFactor(String),
}

/// `grant_type=password`: first-party clients only.
pub async fn grant(
    grants: &Grants,
    client: &Client,
    username: &str,
    password: Password,
    scope: Option<&str>,
    meta: &SessionMeta,
) -> Result<Answer, OAuthError> {
    if !client.first_party || !client.allows(GrantType::Password) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the password grant",
        ));
    }
    let scope = resolve_scope(client, scope)?;
    let user = match grants
        .authenticator
        .password(client, username, password, &scope, meta)
        .await?
    {
        Authenticated::User(user) => user,
        Authenticated::NeedsSecondFactor(token) => return Ok(Answer::SecondFactor(token)),
    };
    let (families, amr) = (grants.families.as_ref(), vec!["pwd".into()]);
    let tokens = start_session(&grants.issuer, families, client, &user, &scope, amr, meta).await?;
    crate::metrics::token_issued("password");
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(client.id.as_str())
        .ip(meta.ip.clone())
        .detail(json!({ "amr": ["pwd"] }));
    grants.audit.record(event).await;
    Ok(Answer::Tokens(tokens))
}

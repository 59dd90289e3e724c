//! The `password` grant (RFC 6749 §4.3, book § Endpoints; the SPA's session login uses it
//! too): first-party clients only. Authentication is `signin::authenticate::Authenticator::password`, the
//! one use-case the hosted sign-in page shares; a user with TOTP gets an `mfa_token` for
//! the mfa-otp grant instead of tokens. A passkey sign-in of the SPA ends the same way.

use serde_json::json;

use super::Grants;
use crate::domain::{Client, GrantType, OAuthError, Password, Scope, User};
use crate::service::signin::authenticate::{Authenticated, SecondStep};
use crate::store::{AuditEvent, SessionMeta};

use super::{resolve_scope, start_session, TokenResponse};

/// What a password login gives.
#[derive(Debug)]
pub enum Answer {
    Tokens(TokenResponse),
    /// The password was right and the user has a second factor: continue with the
    /// mfa-otp grant (or `POST /api/v1/session/mfa`) and this step's token.
    SecondFactor(SecondStep),
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
        Authenticated::NeedsSecondFactor(step) => return Ok(Answer::SecondFactor(step)),
    };
    let amr = vec!["pwd".into()];
    let tokens = signed_in(grants, client, &user, &scope, amr, meta, "password").await?;
    Ok(Answer::Tokens(tokens))
}

/// A passkey sign-in of a first-party client's user (book § Passkeys; the SPA's
/// `POST /api/v1/session/passkey`): the client's own scope, `amr` from the assertion.
pub async fn passkey(
    grants: &Grants,
    client: &Client,
    ceremony: &str,
    credential: &webauthn_rs_core::proto::PublicKeyCredential,
    meta: &SessionMeta,
) -> Result<TokenResponse, OAuthError> {
    let (user, amr) = grants
        .authenticator
        .passkey(client, ceremony, credential, meta)
        .await?;
    let scope = resolve_scope(client, None)?;
    signed_in(grants, client, &user, &scope, amr, meta, "passkey").await
}

/// Tokens for a user a first-party client signed in directly: a new session, counted as
/// `how` and audited with its `amr`.
pub(super) async fn signed_in(
    grants: &Grants,
    client: &Client,
    user: &User,
    scope: &Scope,
    amr: Vec<String>,
    meta: &SessionMeta,
    how: &'static str,
) -> Result<TokenResponse, OAuthError> {
    let families = grants.families.as_ref();
    let event = AuditEvent::new("login_succeeded", "ok")
        .user(user.id)
        .client(client.id.as_str())
        .ip(meta.ip.clone())
        .detail(json!({ "amr": amr }));
    let factors = amr.clone();
    let tokens = start_session(&grants.issuer, families, client, user, scope, amr, meta).await?;
    crate::metrics::token_issued(how);
    crate::metrics::signed_in(&factors);
    grants.audit.record(event).await;
    Ok(tokens)
}

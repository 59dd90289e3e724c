//! Token issuance (RFC 9068, book § Endpoints, RFC 6749): one file per grant; this module mints the token set a
//! grant decided on (access token, ID token with `openid`, refresh token for user sessions).

pub mod authorization_code;
pub mod client_credentials;
pub mod issuer;
pub mod mfa_otp;
pub mod password;
pub mod refresh_token;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::OAuthError;
use crate::domain::{Client, Scope, User};
use std::sync::Arc;

use crate::clock::Clock;
use crate::service::audit::Auditor;
use crate::service::sessions::Sessions;
use crate::service::signin::authenticate::Authenticator;
use crate::store::{
    ClientStore, CodeStore, Family, FamilyStore, SessionMeta, SsoStore, Stores, UserStore,
};
use crate::tokens::refresh;

pub use issuer::{TokenIssuer, TokenPolicy};

/// What the user grants use: the issuer, the authenticator (password and second factor),
/// the session, code, sign-in, user and client stores, the sessions service (for the ends
/// a replay or a reuse causes), the audit trail and the clock. `client_credentials` needs
/// the issuer alone.
#[derive(Clone)]
pub struct Grants {
    pub issuer: TokenIssuer,
    authenticator: Authenticator,
    sessions: Sessions,
    audit: Auditor,
    families: Arc<dyn FamilyStore>,
    codes: Arc<dyn CodeStore>,
    sso: Arc<dyn SsoStore>,
    users: Arc<dyn UserStore>,
    clients: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
}

impl Grants {
    pub fn new(
        stores: &Stores,
        issuer: TokenIssuer,
        authenticator: Authenticator,
        sessions: Sessions,
        audit: Auditor,
    ) -> Self {
        Grants {
            clock: issuer.clock.clone(),
            issuer,
            authenticator,
            sessions,
            audit,
            families: stores.families.clone(),
            codes: stores.codes.clone(),
            sso: stores.sso.clone(),
            users: stores.users.clone(),
            clients: stores.clients.clone(),
        }
    }
}

/// RFC 6749 §5.1 token response.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`, or `DPoP` for an access token bound to the request's DPoP key.
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

redacted_debug!(TokenResponse, token_type, expires_in, scope);

impl std::fmt::Display for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenResponse(REDACTED)")
    }
}

/// Scope of the grant: the requested one (which must be within the client's), or all the
/// client's scopes when none was requested.
/// Standard OpenID Connect scopes tessera does not serve (no address or phone claims,
/// and refresh tokens need no `offline_access`): requested, they are left out.
const IGNORED_OIDC_SCOPES: [&str; 3] = ["address", "phone", "offline_access"];

pub fn resolve_scope(client: &Client, requested: Option<&str>) -> Result<Scope, OAuthError> {
    let allowed = Scope::from_list(&client.scopes);
    match requested {
        None => Ok(allowed),
        Some(text) => {
            // OpenID Connect scopes tessera has no claims for are ignored, as OIDC Core
            // §5.4 asks ("not understood ... SHOULD be ignored"); any other scope the
            // client may not request is refused
            let unserved: Vec<&str> = IGNORED_OIDC_SCOPES
                .into_iter()
                .filter(|s| !allowed.contains(s))
                .collect();
            let scope = Scope::parse(text)
                .map_err(|e| OAuthError::InvalidScope(e.into()))?
                .without(&unserved);
            if scope.is_subset(&allowed) {
                Ok(scope)
            } else {
                Err(OAuthError::InvalidScope(
                    "scope exceeds what this client may request".into(),
                ))
            }
        }
    }
}

/// How the user of a new session authenticated.
pub struct Login<'a> {
    pub amr: Vec<String>,
    pub auth_time: time::OffsetDateTime,
    /// The authorization request's `nonce`, echoed in the ID token.
    pub nonce: Option<&'a str>,
}

/// Starts a session (refresh family) for a user who just authenticated with `amr`.
/// The family is stored only when the client may use refresh tokens.
pub async fn start_session(
    issuer: &TokenIssuer,
    families: &dyn FamilyStore,
    client: &Client,
    user: &User,
    scope: &Scope,
    amr: Vec<String>,
    meta: &SessionMeta,
) -> Result<TokenResponse, OAuthError> {
    let login = Login {
        amr,
        auth_time: issuer.clock.now(),
        nonce: None,
    };
    let started = start_login(issuer, families, client, user, scope, login, meta).await?;
    Ok(started.0)
}

/// Starts a session for `login`; returns the tokens and the new family.
pub async fn start_login(
    issuer: &TokenIssuer,
    families: &dyn FamilyStore,
    client: &Client,
    user: &User,
    scope: &Scope,
    login: Login<'_>,
    meta: &SessionMeta,
) -> Result<(TokenResponse, Family), OAuthError> {
    // a session's times are kept to the second, as its tokens carry them; its idle expiry
    // runs from the exact moment
    let at = issuer.clock.now();
    let now = to_second(at);
    let policy = &issuer.policy;
    let handle = refresh::Handle::generate();
    // a public client's refresh tokens are bound to its DPoP key (RFC 9449 §5): a
    // confidential client's are bound to its own authentication already
    let jkt = meta.dpop_jkt.as_deref();
    let amr = crate::domain::methods::bind_key(&login.amr, jkt.filter(|_| client.public));
    let family = Family {
        id: handle.sid(),
        user_id: user.id,
        client_id: client.id.to_string(),
        scope: scope.to_string(),
        auth_time: to_second(login.auth_time),
        amr,
        created_at: now,
        absolute_expiry: now + policy.refresh_absolute_ttl,
    };
    // the family is stored either way: it is the session that revokes its access tokens
    let token = if client.allows(crate::domain::GrantType::RefreshToken) {
        let token = handle.issue();
        families
            .create_family(
                &family,
                meta,
                Some(&token.sha256),
                policy.refresh_idle_ttl,
                at,
            )
            .await?;
        Some(token)
    } else {
        let ttl = issuer.access_ttl(client) + policy.clock_leeway;
        families.create_family(&family, meta, None, ttl, at).await?;
        None
    };
    let tokens = issuer.user_tokens(
        client,
        Some(user),
        scope,
        &family,
        issuer::Issued {
            refresh: token.as_ref(),
            nonce: login.nonce,
            jkt,
        },
    )?;
    Ok((tokens, family))
}

/// `at` without its fraction of a second.
fn to_second(at: time::OffsetDateTime) -> time::OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

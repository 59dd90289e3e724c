//! Token issuance (RFC 9068, book § Endpoints, RFC 6749): one file per grant; this module mints the token set a
//! grant decided on (access token, ID token with `openid`, refresh token for user sessions).

pub mod authorization_code;
pub mod client_credentials;
pub mod mfa_otp;
pub mod password;
pub mod refresh_token;

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::OAuthError;
use crate::domain::{Client, Scope, User};
use crate::state::AppState;
use crate::store::{Family, SessionMeta};
use crate::tokens::{self, refresh, AccessClaims, Audience, IdClaims, UserInfo, ACCESS_TOKEN_TYP};

/// RFC 6749 §5.1 token response.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
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

fn access_ttl(state: &AppState, client: &Client) -> Duration {
    client
        .access_token_ttl
        .unwrap_or(state.settings.access_token_ttl)
        .min(Duration::from_secs(3600))
}

fn audiences(state: &AppState, client: &Client) -> Audience {
    if client.audiences.is_empty() {
        Audience(vec![state.settings.default_audience.clone()])
    } else {
        Audience(client.audiences.clone())
    }
}

/// Signs an access token for `sub`; `session` is set for user tokens.
pub fn access_token(
    state: &AppState,
    client: &Client,
    sub: &str,
    scope: &Scope,
    session: Option<&Family>,
) -> Result<(String, u64), OAuthError> {
    let now = state.clock.now().unix_timestamp();
    let ttl = access_ttl(state, client).as_secs();
    let claims = AccessClaims {
        iss: state.settings.issuer.clone(),
        sub: sub.to_owned(),
        aud: audiences(state, client),
        exp: now + ttl as i64,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        client_id: client.id.to_string(),
        scope: scope.to_string(),
        sid: session.map(|f| f.id.clone()),
        auth_time: session.map(|f| f.auth_time),
        amr: session.map(|f| f.amr.clone()),
    };
    let token = tokens::sign(
        &state.keyring,
        state.settings.signing_alg,
        ACCESS_TOKEN_TYP,
        &claims,
    )?;
    Ok((token, ttl))
}

/// OIDC Core §3.1.3.6 `at_hash`: the left half of the access token's hash, with the hash
/// of the ID token's algorithm (SHA-512 for Ed25519).
fn at_hash(alg: crate::crypto::SigningAlg, access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest: Vec<u8> = match alg {
        crate::crypto::SigningAlg::EdDsa => sha2::Sha512::digest(access_token).to_vec(),
        _ => sha2::Sha256::digest(access_token).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

fn id_token(
    state: &AppState,
    client: &Client,
    user: &User,
    scope: &Scope,
    family: &Family,
    access_token: &str,
    nonce: Option<&str>,
) -> Result<String, OAuthError> {
    let now = state.clock.now().unix_timestamp();
    // an ID token algorithm that is not enabled falls back to RS256, which always is
    let alg = if state.keyring.signer(client.id_token_alg).is_some() {
        client.id_token_alg
    } else {
        crate::crypto::SigningAlg::Rs256
    };
    let claims = IdClaims {
        iss: state.settings.issuer.clone(),
        aud: client.id.to_string(),
        exp: now + access_ttl(state, client).as_secs() as i64,
        iat: now,
        auth_time: family.auth_time,
        nonce: nonce.map(str::to_owned),
        at_hash: Some(at_hash(alg, access_token)),
        amr: family.amr.clone(),
        sid: family.id.clone(),
        user: UserInfo::new(user, |s| scope.contains(s)),
    };
    Ok(tokens::sign(&state.keyring, alg, "JWT", &claims)?)
}

/// Tokens for a user session: access token, ID token with `openid` (which needs `user`),
/// and `refresh` when the client may refresh.
pub fn user_tokens(
    state: &AppState,
    client: &Client,
    user: Option<&User>,
    scope: &Scope,
    family: &Family,
    refresh: Option<&refresh::RefreshToken>,
) -> Result<TokenResponse, OAuthError> {
    tokens_for(state, client, user, scope, family, refresh, None)
}

fn tokens_for(
    state: &AppState,
    client: &Client,
    user: Option<&User>,
    scope: &Scope,
    family: &Family,
    refresh: Option<&refresh::RefreshToken>,
    nonce: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let (access_token, expires_in) = access_token(
        state,
        client,
        &family.user_id.to_string(),
        scope,
        Some(family),
    )?;
    let id_token = match user {
        Some(user) if scope.contains("openid") => Some(id_token(
            state,
            client,
            user,
            scope,
            family,
            &access_token,
            nonce,
        )?),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        scope: scope.to_string(),
        refresh_token: refresh.map(|r| r.expose().to_owned()),
        id_token,
    })
}

/// How the user of a new session authenticated.
pub struct Login<'a> {
    pub amr: Vec<String>,
    /// Unix seconds.
    pub auth_time: i64,
    /// The authorization request's `nonce`, echoed in the ID token.
    pub nonce: Option<&'a str>,
}

/// Starts a session (refresh family) for a user who just authenticated with `amr`.
/// The family is stored only when the client may use refresh tokens.
pub async fn start_session(
    state: &AppState,
    client: &Client,
    user: &User,
    scope: &Scope,
    amr: Vec<String>,
    meta: &SessionMeta,
) -> Result<TokenResponse, OAuthError> {
    let auth_time = state.clock.now().unix_timestamp();
    let login = Login {
        amr,
        auth_time,
        nonce: None,
    };
    Ok(start_login(state, client, user, scope, login, meta)
        .await?
        .0)
}

/// Starts a session for `login`; returns the tokens and the new family.
pub async fn start_login(
    state: &AppState,
    client: &Client,
    user: &User,
    scope: &Scope,
    login: Login<'_>,
    meta: &SessionMeta,
) -> Result<(TokenResponse, Family), OAuthError> {
    let now = state.clock.now().unix_timestamp();
    let handle = refresh::Handle::generate();
    let family = Family {
        id: handle.sid(),
        user_id: user.id,
        client_id: client.id.to_string(),
        scope: scope.to_string(),
        auth_time: login.auth_time,
        amr: login.amr,
        created_at: now,
        absolute_expiry: now + state.settings.refresh_absolute_ttl.as_secs() as i64,
    };
    // the family is stored either way: it is the session that revokes its access tokens
    let token = if client.allows(crate::domain::GrantType::RefreshToken) {
        let token = handle.issue();
        let idle = state.settings.refresh_idle_ttl;
        state
            .stores
            .families
            .create_family(&family, meta, Some(&token.sha256), idle)
            .await?;
        Some(token)
    } else {
        let ttl = access_ttl(state, client) + state.settings.clock_leeway;
        state
            .stores
            .families
            .create_family(&family, meta, None, ttl)
            .await?;
        None
    };
    let tokens = tokens_for(
        state,
        client,
        Some(user),
        scope,
        &family,
        token.as_ref(),
        login.nonce,
    )?;
    Ok((tokens, family))
}

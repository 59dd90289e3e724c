//! Token revocation and status (RFC 9068, book § Endpoints, RFC 6749): RFC 7009 revocation, RFC 7662 introspection,
//! and the check every resource endpoint makes: an access token is active only if its
//! signature, type, issuer and times verify, its `jti` is not blocklisted, its session
//! (refresh family) still exists, and it was issued after its user's cutoff.

use serde_json::{json, Value};

use crate::domain::Client;
use crate::domain::OAuthError;
use std::sync::Arc;

use crate::clock::Clock;
use crate::service::abuse::Limiter;
use crate::service::access::AccessCheck;
use crate::service::sessions::Sessions;
use crate::store::FamilyStore;
use crate::tokens::refresh;

/// What revocation (RFC 7009) and introspection (RFC 7662) use: the access-token check,
/// the sessions service, the limiter, the session store and the issuer's name and default
/// audience.
#[derive(Clone)]
pub struct TokenEndpoints {
    access: Arc<AccessCheck>,
    sessions: Sessions,
    limiter: Limiter,
    families: Arc<dyn FamilyStore>,
    clock: Arc<dyn Clock>,
    issuer: String,
    default_audience: String,
}

impl TokenEndpoints {
    pub fn new(
        access: Arc<AccessCheck>,
        sessions: Sessions,
        limiter: Limiter,
        families: Arc<dyn FamilyStore>,
        clock: Arc<dyn Clock>,
        settings: &crate::config::Settings,
    ) -> Self {
        TokenEndpoints {
            access,
            sessions,
            limiter,
            families,
            clock,
            issuer: settings.issuer.clone(),
            default_audience: settings.default_audience.clone(),
        }
    }
}

/// RFC 7009: revokes a refresh token (its whole family) or an access token (its `jti`)
/// if `client` owns it; anything else is silently accepted.
pub async fn revoke(
    tokens: &TokenEndpoints,
    client: &Client,
    token: &str,
) -> Result<(), OAuthError> {
    use super::abuse::Bucket;
    if let Some(presented) = refresh::parse(token) {
        // every refresh-token revocation may write a feed event: each one counts (no extra
        // read to find out first whether the family is alive and the client's)
        tokens
            .limiter
            .check(Bucket::RevocationsPerClient, client.id.as_str())
            .await?;
        if tokens
            .sessions
            .end_family(&presented.sid, Some(client.id.as_str()))
            .await?
        {
            tracing::info!(sid = %presented.sid, client_id = %client.id, "refresh token family revoked");
        }
        return Ok(());
    }
    if let Some(claims) = tokens.access.active(token).await? {
        if claims.client_id == client.id.as_str() {
            tokens
                .limiter
                .check(Bucket::RevocationsPerClient, client.id.as_str())
                .await?;
            tokens.sessions.blocklist(&claims).await?;
            tracing::info!(jti = %claims.jti, client_id = %client.id, "access token revoked");
        }
    }
    Ok(())
}

/// RFC 7662: the token's status; claims only for an active access token, or for a
/// refresh token of the asking client.
pub async fn introspect(
    tokens: &TokenEndpoints,
    client: &Client,
    token: &str,
) -> Result<Value, OAuthError> {
    let inactive = json!({ "active": false });
    if let Some(presented) = refresh::parse(token) {
        let now = tokens.clock.now();
        let Some(family) = tokens.families.find_family(&presented.sid, now).await? else {
            return Ok(inactive);
        };
        // a retired token of a live family is not active: rotation would treat it as reuse
        let current = tokens
            .families
            .is_current(&presented.sid, &presented.sha256, now)
            .await?;
        if family.client_id != client.id.as_str() || !current {
            return Ok(inactive);
        }
        let mut body = json!({
            "active": true, "token_type": "refresh_token", "client_id": family.client_id, "sub": family.user_id.to_string(),
            "scope": family.scope, "exp": family.absolute_expiry.unix_timestamp(), "iat": family.created_at.unix_timestamp(), "iss": tokens.issuer, "sid": family.id,
        });
        if let Some(jkt) = crate::domain::methods::bound_key(&family.amr) {
            body["cnf"] = json!({ "jkt": jkt });
        }
        without_empty_scope(&mut body);
        return Ok(body);
    }
    let Some(claims) = tokens.access.active(token).await? else {
        return Ok(inactive);
    };
    if !serves_audience(tokens, client, &claims) {
        tracing::debug!(client_id = %client.id, "introspection of a token meant for another audience");
        return Ok(inactive);
    }
    let mut body = serde_json::to_value(&claims).map_err(|e| OAuthError::Server(e.into()))?;
    if let Some(map) = body.as_object_mut() {
        map.insert("active".into(), Value::Bool(true));
        // RFC 9449 §6.2: a bound token introspects as DPoP, its `cnf` with it
        let kind = crate::service::grants::issuer::token_type(claims.cnf.is_some());
        map.insert("token_type".into(), Value::String(kind.into()));
    }
    without_empty_scope(&mut body);
    Ok(body)
}

/// RFC 7662 §2.2: `scope` lists the token's scopes; a token with none has no `scope`
/// member (an empty string would read as one empty scope to strict clients).
fn without_empty_scope(body: &mut Value) {
    if let Some(map) = body.as_object_mut() {
        if map.get("scope").and_then(Value::as_str) == Some("") {
            map.remove("scope");
        }
    }
}

/// RFC 7662 §4: a resource server only learns about tokens meant for it. The asking client
/// serves the token if it issued it, or the token's `aud` names the client, one of the
/// client's configured audiences, or the default audience (tokens of clients without
/// audiences of their own).
fn serves_audience(
    tokens: &TokenEndpoints,
    client: &Client,
    claims: &crate::tokens::AccessClaims,
) -> bool {
    claims.client_id == client.id.as_str()
        || claims.aud.0.iter().any(|aud| {
            aud == client.id.as_str()
                || *aud == tokens.default_audience
                || client.audiences.contains(aud)
        })
}

//! `grant_type=refresh_token` (RFC 6749 §6, RFC 9068, book § Endpoints): the presented token is checked and
//! replaced in one atomic Redis step. The new token is derived from the presented one (an
//! HMAC under a KEK subkey), so a retry of the just-retired token within the grace window
//! gets the same new refresh token (and an access token for the same session) without any
//! token being stored or sealed; an older token of the family is theft: the family is
//! revoked (its access tokens with it) and the event audited.

use super::Grants;
use crate::domain::OAuthError;
use crate::domain::{Client, ClientId, GrantType, Scope};
use crate::store::{AuditEvent, Family, RotateRequest, Rotation};
use crate::tokens::refresh;

use super::TokenResponse;

const INVALID: OAuthError =
    OAuthError::InvalidGrant("refresh token is invalid, expired or revoked");

/// The DPoP side of a refresh (RFC 9449 §5).
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    /// The caller made sure the session is bound to no key (the cookie API).
    Unbound,
    /// The token endpoint: the key of the request's proof, if it carried one.
    Proof(Option<&'a str>),
}

/// Rotates `presented` for `client`, which must own the family (RFC 9068, book § Endpoints). The OAuth
/// endpoint passes the authenticated client; the SPA cookie endpoint passes the family's
/// own client after checking that it may use the cookie API (`spa_family_client`). There is
/// no path that rotates a family without naming its client. `ip` is for the audit trail.
pub async fn rotate(
    grants: &Grants,
    client: &Client,
    presented: &str,
    scope: Option<&str>,
    ip: Option<String>,
    binding: Binding<'_>,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows(GrantType::RefreshToken) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use refresh tokens",
        ));
    }
    let Some(presented) = refresh::parse(presented) else {
        return Err(INVALID);
    };
    let jkt = match binding {
        Binding::Unbound => None,
        Binding::Proof(jkt) => {
            if client.public {
                // checked before the rotation, so a thief without the key spends nothing
                bound_to(grants, &presented.sid, jkt).await?;
            }
            jkt
        }
    };
    let family_id = &presented.sid;
    // derived from the presented token: a retry of this rotation derives the same one
    let issuer = &grants.issuer;
    let next = issuer.next_refresh(&presented.handle, &presented.sha256);
    let request = RotateRequest {
        family_id,
        presented: &presented.sha256,
        next: &next.sha256,
        client_id: client.id.as_str(),
        now: grants.clock.now(),
        idle_ttl: issuer.policy.refresh_idle_ttl,
        grace: issuer.policy.refresh_grace,
    };
    let family = match grants.families.rotate(request).await? {
        Rotation::Rotated(family) => family,
        Rotation::Grace(family) => {
            tracing::info!(sid = %family.id, "refresh retried within the grace window");
            family
        }
        Rotation::Reused(family) => {
            reuse_detected(grants, &family, ip).await;
            return Err(INVALID);
        }
        Rotation::Rejected => return Err(INVALID),
    };
    let scope = narrowed_scope(&family, scope)?;
    // the user's record is only needed for ID-token claims; a deleted user's sessions are
    // revoked with the user, so the family alone vouches for the access token
    let user = if scope.contains("openid") {
        Some(
            grants
                .users
                .find_user(family.user_id)
                .await?
                .ok_or(INVALID)?,
        )
    } else {
        None
    };
    let tokens = issuer.user_tokens(
        client,
        user.as_ref(),
        &scope,
        &family,
        super::issuer::Issued {
            refresh: Some(&next),
            nonce: None,
            jkt,
        },
    )?;
    crate::metrics::token_issued("refresh_token");
    Ok(tokens)
}

/// The client of the family a cookie's refresh token belongs to, if the SPA cookie API may
/// rotate it: the client still exists, is public and first-party, and allows `password`
/// and `refresh_token` (book § Endpoints). Anything else is the same `invalid_grant` as a bad token.
pub async fn spa_family_client(grants: &Grants, presented: &str) -> Result<Client, OAuthError> {
    let presented = refresh::parse(presented).ok_or(INVALID)?;
    let family = grants
        .families
        .find_family(&presented.sid, grants.clock.now())
        .await?
        .ok_or(INVALID)?;
    // a session bound to a DPoP key is refreshed at the token endpoint with a proof only
    if crate::domain::methods::bound_key(&family.amr).is_some() {
        return Err(INVALID);
    }
    let id = ClientId::parse(&family.client_id).map_err(|_| INVALID)?;
    crate::service::clients::spa_refresh_client(grants.clients.as_ref(), &id)
        .await?
        .ok_or(INVALID)
}

/// Refuses a refresh of a session bound to a DPoP key (RFC 9449 §5) without a proof by
/// that key; a session that is unknown here fails the rotation after.
async fn bound_to(
    grants: &Grants,
    family: &crate::domain::FamilyId,
    jkt: Option<&str>,
) -> Result<(), OAuthError> {
    let now = grants.clock.now();
    let Some(family) = grants.families.find_family(family, now).await? else {
        return Ok(());
    };
    match crate::domain::methods::bound_key(&family.amr) {
        Some(bound) if jkt != Some(bound) => Err(OAuthError::InvalidDpopProof(
            "the refresh token is bound to a DPoP key: send a proof signed by it".into(),
        )),
        _ => Ok(()),
    }
}

fn narrowed_scope(family: &Family, requested: Option<&str>) -> Result<Scope, OAuthError> {
    let granted = Scope::parse(&family.scope).map_err(|_| INVALID)?;
    match requested {
        None => Ok(granted),
        Some(text) => {
            let narrower = Scope::parse(text).map_err(|e| OAuthError::InvalidScope(e.into()))?;
            if narrower.is_subset(&granted) {
                Ok(narrower)
            } else {
                Err(OAuthError::InvalidScope(
                    "scope exceeds the original grant".into(),
                ))
            }
        }
    }
}

/// The family is already deleted (so its access tokens introspect inactive); record it.
async fn reuse_detected(grants: &Grants, family: &Family, ip: Option<String>) {
    tracing::warn!(sid = %family.id, user_id = %family.user_id, client_id = %family.client_id, "refresh token reuse: session revoked");
    crate::metrics::reuse_detected();
    let event = AuditEvent::new("refresh_token_reuse", "revoked")
        .user(family.user_id)
        .client(family.client_id.clone())
        .ip(ip)
        .detail(serde_json::json!({ "family": family.id }));
    grants.audit.record(event).await;
    let ended = [crate::store::Ended {
        id: family.id.clone(),
        client_id: family.client_id.clone(),
        user_id: family.user_id,
    }];
    // the store outage is logged where it happens; the refresh is refused either way
    let _ = grants.sessions.feed_ended(&ended).await;
}

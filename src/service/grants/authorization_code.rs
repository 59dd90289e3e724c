//! `grant_type=authorization_code` (book § Sign-in with the authorization-code flow): a code from the hosted sign-in, redeemed
//! once with its PKCE verifier by the client it was issued to. A second use revokes
//! everything the first one issued (RFC 6749 §4.1.2).

use serde_json::json;

use super::Grants;
use crate::domain::{methods, Client, GrantType, OAuthError, Scope};
use crate::service::authorize::{code_digest, pkce_matches};
use crate::store::{AuditEvent, CodeTake, SessionMeta};

use super::{start_login, Login, TokenResponse};

const INVALID: OAuthError = OAuthError::InvalidGrant("the code is invalid, expired or used");

/// Redeems `code` for `client`.
pub async fn grant(
    grants: &Grants,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    meta: &SessionMeta,
) -> Result<TokenResponse, OAuthError> {
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use the authorization_code grant",
        ));
    }
    let verifier = verifier.ok_or(OAuthError::InvalidRequest(
        "code_verifier is required (PKCE)".into(),
    ))?;
    if code.is_empty() || code.len() > 128 {
        return Err(INVALID);
    }
    let digest = code_digest(code);
    let now = grants.clock.now();
    let issued = match grants.codes.take_code(&digest, now).await? {
        CodeTake::Fresh(issued) => issued,
        CodeTake::Unknown => return Err(INVALID),
        CodeTake::Replayed(family) => {
            if let Some(family) = &family {
                grants.sessions.end_family(family, None).await?;
            }
            let event = AuditEvent::new("authorization_code_reuse", "denied")
                .client(client.id.as_str())
                .ip(meta.ip.clone())
                .detail(json!({ "family_revoked": family.is_some() }));
            grants.audit.record(event).await;
            return Err(INVALID);
        }
    };
    // the code is spent whatever follows: a wrong verifier or client does not get a retry.
    // redirect_uri must be the authorization request's exactly when it sent one (RFC 6749
    // §4.1.3), and may be left out only when it did not
    let redirect_matches = match redirect_uri {
        Some(sent) => sent == issued.redirect_uri,
        None => !issued.redirect_uri_sent,
    };
    if issued.client_id != client.id.as_str()
        || !redirect_matches
        || !pkce_matches(verifier, &issued.code_challenge)
    {
        return Err(INVALID);
    }
    // the browser session it came from must still be live (not signed out since)
    if grants.sso.find_sso(&issued.sso_id, now).await?.is_none() {
        return Err(INVALID);
    }
    let user = grants
        .users
        .find_user(issued.user_id)
        .await?
        .ok_or(INVALID)?;
    let scope = Scope::parse(&issued.scope).map_err(|_| INVALID)?;
    // a code asked for with `dpop_jkt` is redeemed only with a proof by that key (RFC 9449 §10)
    if let Some(bound) = methods::bound_key(&issued.amr) {
        if meta.dpop_jkt.as_deref() != Some(bound) {
            return Err(OAuthError::InvalidDpopProof(
                "the code is bound to a DPoP key (dpop_jkt): send a proof signed by it".into(),
            ));
        }
    }
    let login = Login {
        amr: methods::bind_key(&issued.amr, None),
        auth_time: issued.auth_time,
        nonce: issued.nonce.as_deref(),
    };
    let (tokens, family) = start_login(
        &grants.issuer,
        grants.families.as_ref(),
        client,
        &user,
        &scope,
        login,
        meta,
    )
    .await?;
    let now = grants.clock.now();
    if !grants
        .codes
        .record_code_family(&digest, &family.id, now)
        .await?
    {
        // replayed while these tokens were minted: they never leave
        grants.sessions.end_family(&family.id, None).await?;
        return Err(INVALID);
    }
    grants
        .sso
        .add_sso_family(&issued.sso_id, &family.id, now)
        .await?;
    crate::metrics::token_issued("authorization_code");
    Ok(tokens)
}

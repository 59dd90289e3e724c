//! Client actions shared by the CLI and the admin API (book § Endpoints, book § Command line): clients with
//! server-generated secrets, validated as a whole, announced and audited.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use serde_json::json;

use crate::crypto::SigningAlg;
use crate::domain::{AuthMethod, Client, ClientId, GrantType, NewClient};
use crate::domain::{OAuthError, Profile};
use crate::service::grants::{TokenIssuer, TokenResponse};
use crate::store::{AuditEvent, Change, Stores};

use super::{announce, audit, ClientPatch, ManageError, Operator};

/// Client JSON (book § Command line); `client_secret` only when created or rotated.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub name: String,
    pub grant_types: Vec<GrantType>,
    pub audiences: Vec<String>,
    pub scopes: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    /// Where tessera POSTs a logout token when one of the client's sessions ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    /// `none` for a public client; `client_secret_basic` (or `client_secret_post`, both are
    /// accepted) or `private_key_jwt` for a confidential one.
    pub token_endpoint_auth_method: AuthMethod,
    /// A `private_key_jwt` client's public keys (a JWK Set)...
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// ...or where tessera reads them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Every token request must carry a DPoP proof; its tokens are bound to that key.
    pub dpop_bound_access_tokens: bool,
    /// Authorization requests must come through `POST /oauth2/par`.
    pub require_pushed_authorization_requests: bool,
    /// `fapi2`, or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

impl ClientView {
    pub fn new(client: &Client, secret: Option<String>) -> Self {
        ClientView {
            client_id: client.id.to_string(),
            client_secret: secret,
            name: client.name.clone(),
            grant_types: client.grant_types.clone(),
            audiences: client.audiences.clone(),
            scopes: client.scopes.clone(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            public: client.public,
            first_party: client.first_party,
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: client.backchannel_logout_session_required,
            token_endpoint_auth_method: client.auth_method(),
            jwks: client.security.jwks.clone(),
            jwks_uri: client.security.jwks_uri.clone(),
            dpop_bound_access_tokens: client.security.dpop_bound_access_tokens,
            require_pushed_authorization_requests: client
                .security
                .require_pushed_authorization_requests,
            profile: client.security.profile,
        }
    }
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Checks a client definition; every problem is listed.
pub fn validate_client(new: &NewClient) -> Result<(), Vec<String>> {
    let problems = new.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Creates a client; a confidential one gets a 32-byte secret, returned once.
pub async fn create_client(
    stores: &Stores,
    new: NewClient,
    operator: &Operator,
) -> Result<(Client, Option<String>), ManageError> {
    validate_client(&new).map_err(|p| ManageError::Invalid(p.join("; ")))?;
    let id = ClientId::parse(&format!("c_{}", random_b64(12)))
        .map_err(|e| ManageError::Invalid(e.into()))?;
    // a public client has no credentials; a private_key_jwt client proves itself with its
    // keys: it keeps the digest of a secret nobody is shown (every confidential client has
    // one), and a secret is never accepted from it
    let keyed = new.security.token_endpoint_auth_method == Some(AuthMethod::PrivateKeyJwt);
    let secret = (!new.public).then(|| random_b64(32));
    let client = Client {
        id: id.clone(),
        name: new.name,
        secret_sha256: secret.as_deref().map(secret_digest),
        public: new.public,
        first_party: new.first_party,
        grant_types: new.grant_types,
        scopes: new.scopes,
        audiences: new.audiences,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        id_token_alg: SigningAlg::Rs256,
        access_token_ttl: None,
        backchannel_logout_uri: new.backchannel_logout_uri,
        backchannel_logout_session_required: new.backchannel_logout_session_required,
        security: new.security,
    };
    stores.clients.create_client(&client, operator.now).await?;
    let secret = secret.filter(|_| !keyed);
    audit(
        stores,
        operator,
        AuditEvent::new("client_created", "ok").client(id.as_str()),
    )
    .await;
    Ok((client, secret))
}

fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub fn parse_client_id(id: &str) -> Result<ClientId, ManageError> {
    ClientId::parse(id).map_err(|_| ManageError::NotFound)
}

/// One page of clients in id order, after `after`.
pub async fn list_clients(
    stores: &Stores,
    after: Option<&ClientId>,
    limit: usize,
) -> Result<Vec<Client>, ManageError> {
    Ok(stores.clients.list_clients(after, limit).await?)
}

/// The client with this id, or `NotFound`.
pub async fn existing_client(stores: &Stores, id: &ClientId) -> Result<Client, ManageError> {
    stores
        .clients
        .find_client(id)
        .await?
        .ok_or(ManageError::NotFound)
}

/// Applies `patch` (validated as a whole, as on creation).
pub async fn update_client(
    stores: &Stores,
    id: &str,
    patch: ClientPatch,
    operator: &Operator,
) -> Result<Client, ManageError> {
    let id = parse_client_id(id)?;
    let mut client = existing_client(stores, &id).await?;
    client.security = patch.security(client.security.clone());
    if let Some(name) = patch.name {
        client.name = name;
    }
    if let Some(first_party) = patch.first_party {
        client.first_party = first_party;
    }
    if let Some(grants) = patch.grant_types {
        client.grant_types = grants;
    }
    if let Some(scopes) = patch.scopes {
        client.scopes = scopes;
    }
    if let Some(audiences) = patch.audiences {
        client.audiences = audiences;
    }
    if let Some(uris) = patch.redirect_uris {
        client.redirect_uris = uris;
    }
    if let Some(uris) = patch.post_logout_redirect_uris {
        client.post_logout_redirect_uris = uris;
    }
    if let Some(uri) = patch.backchannel_logout_uri {
        client.backchannel_logout_uri = uri;
    }
    if let Some(required) = patch.backchannel_logout_session_required {
        client.backchannel_logout_session_required = required;
    }

    validate_client(&client.definition()).map_err(|p| ManageError::Invalid(p.join("; ")))?;
    if !stores.clients.update_client(&client, operator.now).await? {
        return Err(ManageError::NotFound);
    }
    client_changed(
        stores,
        operator,
        &id,
        AuditEvent::new("client_updated", "ok"),
    )
    .await;
    Ok(client)
}

/// Tells the other instances to drop `id` from their caches and audits the change.
async fn client_changed(stores: &Stores, operator: &Operator, id: &ClientId, event: AuditEvent) {
    announce(stores, Change::Client(id.clone())).await;
    audit(stores, operator, event.client(id.as_str())).await;
}

/// A new secret for a confidential client, shown once; the old one stops working at once
/// here and on other instances as soon as they hear of it.
pub async fn rotate_client_secret(
    stores: &Stores,
    id: &str,
    operator: &Operator,
) -> Result<(Client, String), ManageError> {
    let id = parse_client_id(id)?;
    let client = existing_client(stores, &id).await?;
    if client.public {
        return Err(ManageError::Conflict("a public client has no secret"));
    }
    if client.auth_method() == AuthMethod::PrivateKeyJwt {
        return Err(ManageError::Conflict(
            "a private_key_jwt client authenticates with its keys, not a secret",
        ));
    }
    let secret = random_b64(32);
    if !stores
        .clients
        .set_client_secret(&id, secret_digest(&secret), operator.now)
        .await?
    {
        return Err(ManageError::NotFound);
    }
    client_changed(
        stores,
        operator,
        &id,
        AuditEvent::new("client_secret_rotated", "ok"),
    )
    .await;
    Ok((client, secret))
}

/// Every client (never a secret), in id order, read a page at a time.
pub async fn all_clients(stores: &Stores) -> Result<Vec<ClientView>, ManageError> {
    const PAGE: usize = 500;
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = stores.clients.list_clients(after.as_ref(), PAGE).await?;
        after = page.last().map(|c| c.id.clone());
        all.extend(page.iter().map(|c| ClientView::new(c, None)));
        if page.len() < PAGE {
            return Ok(all);
        }
    }
}

/// Deletes a client and ends every session issued to it; returns how many ended.
pub async fn delete_client(
    stores: &Stores,
    settings: &crate::config::Settings,
    id: &str,
    operator: &Operator,
) -> Result<usize, ManageError> {
    let id = parse_client_id(id)?;
    let client = stores.clients.find_client(&id).await?;
    if !stores.clients.delete_client(&id).await? {
        return Err(ManageError::NotFound);
    }
    // no instance may start new sessions for it before its families are swept
    announce(stores, Change::Client(id.clone())).await;
    let ended = stores
        .families
        .revoke_client_sessions(id.as_str(), operator.now)
        .await?;
    let feed = crate::service::feed::sessions_ended;
    feed(stores, settings, &ended, client.as_ref(), operator.now).await?;
    crate::service::feed::client_deleted(stores, settings, id.as_str(), operator.now).await?;
    let ended = ended.len();
    audit(
        stores,
        operator,
        AuditEvent::new("client_deleted", "ok")
            .client(id.as_str())
            .detail(json!({ "sessions_revoked": ended })),
    )
    .await;
    Ok(ended)
}

/// An access token for a confidential client, as its `client_credentials` grant at the
/// token endpoint would issue it, without its secret: for an operator's scripts and smoke
/// tests (`tessera clients token`). The same grant decides scope and lifetime; the issue is
/// audited with the operator.
pub async fn issue_client_token(
    issuer: &TokenIssuer,
    stores: &Stores,
    id: &str,
    scope: Option<&str>,
    operator: &Operator,
) -> Result<TokenResponse, ManageError> {
    let id = parse_client_id(id)?;
    let client = existing_client(stores, &id).await?;
    let tokens = crate::service::grants::client_credentials::grant(issuer, &client, scope, None)
        .map_err(|e| match e {
            OAuthError::Server(e) => ManageError::Internal(e),
            other => ManageError::Invalid(other.description()),
        })?;
    let detail = serde_json::json!({ "grant": "client_credentials", "scope": tokens.scope });
    let event = AuditEvent::new("token_issued", "ok")
        .client(id.as_str())
        .detail(detail);
    super::audit(stores, operator, event).await;
    Ok(tokens)
}

//! OAuth clients (book § Endpoints, book § Command line).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Scope;
use crate::crypto::SigningAlg;

/// A client id: 1-128 characters of A-Z a-z 0-9 `-` `_` `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let ok = !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            Ok(ClientId(value.to_owned()))
        } else {
            Err("client_id is malformed")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Grant types tessera implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    Password,
    RefreshToken,
    ClientCredentials,
    AuthorizationCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        Self::AuthorizationCode,
        Self::Password,
        Self::RefreshToken,
        Self::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
        }
    }
}

impl FromStr for GrantType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|g| g.as_str() == s).ok_or(())
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2): `none` is a public
/// client; a confidential one may send its secret either way unless it is registered for
/// `private_key_jwt`, which takes no secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }
}

/// A client profile: a set of rules that the profile alone turns on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// FAPI 2.0 Security Profile (without mTLS): PAR, PKCE S256, DPoP-bound tokens,
    /// `private_key_jwt` for confidential clients, no password grant, and tokens signed
    /// with ES256, PS256 or EdDSA.
    Fapi2,
}

/// How a client proves itself and holds its tokens (book § DPoP and PAR), kept as one
/// JSON document with the client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientSecurity {
    /// Absent: `none` for a public client, `client_secret_basic` (or `_post`) otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// The client's public keys for `private_key_jwt` (a JWK Set)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// ...or where tessera reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// Authorization requests must come through PAR (RFC 9126 §6).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    pub name: String,
    /// SHA-256 of the secret; `None` for public clients.
    pub secret_sha256: Option<[u8; 32]>,
    pub public: bool,
    pub first_party: bool,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_alg: SigningAlg,
    pub access_token_ttl: Option<std::time::Duration>,
    /// Where the client hears that one of its sessions ended (OpenID Connect Back-Channel
    /// Logout 1.0); confidential clients only.
    pub backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in the logout token (tessera always sends it).
    pub backchannel_logout_session_required: bool,
    pub security: ClientSecurity,
}

impl Client {
    /// How the client authenticates at the token endpoint.
    pub fn auth_method(&self) -> AuthMethod {
        match self.security.token_endpoint_auth_method {
            _ if self.public => AuthMethod::None,
            Some(method) => method,
            None => AuthMethod::ClientSecretBasic,
        }
    }

    pub fn is_fapi2(&self) -> bool {
        self.security.profile == Some(Profile::Fapi2)
    }

    /// Whether every token request must carry a DPoP proof.
    pub fn must_use_dpop(&self) -> bool {
        self.security.dpop_bound_access_tokens || self.is_fapi2()
    }

    /// Whether the client's own settings require pushed authorization requests
    /// (`TESSERA_REQUIRE_PAR` requires them of every client: `PushedRequests::required`).
    pub fn must_push(&self) -> bool {
        self.security.require_pushed_authorization_requests || self.is_fapi2()
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The client's definition, as creating it took (to validate a change as a whole).
    pub fn definition(&self) -> NewClient {
        NewClient {
            name: self.name.clone(),
            public: self.public,
            first_party: self.first_party,
            grant_types: self.grant_types.clone(),
            scopes: self.scopes.clone(),
            audiences: self.audiences.clone(),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            security: self.security.clone(),
        }
    }

    /// Whether the SPA cookie API (`/api/v1/session*`) may sign users in for this client:
    /// public and first-party, with the `password` grant (book § Endpoints). A confidential client
    /// must authenticate at `/oauth2/token` instead.
    pub fn is_spa_client(&self) -> bool {
        self.public && self.first_party && self.allows(GrantType::Password)
    }
}

/// What creating a client takes (the secret is generated by the server).
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub public: bool,
    pub first_party: bool,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    pub security: ClientSecurity,
}

/// Longest list in a client definition.
const MAX_LIST: usize = 32;

impl NewClient {
    /// Every problem with this definition, or none.
    pub fn problems(&self) -> Vec<String> {
        let new = self;
        let mut problems = Vec::new();
        if new.name.trim().is_empty()
            || new.name.chars().count() > 200
            || new.name.chars().any(char::is_control)
        {
            problems.push("name must be 1 to 200 characters, none a control character".to_owned());
        }
        if new.grant_types.is_empty() {
            problems.push("at least one grant is required".to_owned());
        }
        if new.public && new.grant_types.contains(&GrantType::ClientCredentials) {
            problems.push("a public client cannot use client_credentials".to_owned());
        }
        if new.grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
            problems.push("authorization_code needs at least one redirect URI".to_owned());
        }
        if new
            .scopes
            .iter()
            .any(|s| s.len() > 128 || Scope::parse(s).map_or(true, |p| p.iter().count() != 1))
        {
            problems
                .push("each scope must be one scope token of at most 128 characters".to_owned());
        }
        for (name, len) in [
            ("grant_types", new.grant_types.len()),
            ("scopes", new.scopes.len()),
            ("audiences", new.audiences.len()),
            ("redirect_uris", new.redirect_uris.len()),
            (
                "post_logout_redirect_uris",
                new.post_logout_redirect_uris.len(),
            ),
        ] {
            if len > MAX_LIST {
                problems.push(format!("at most {MAX_LIST} {name}"));
            }
        }
        if new
            .audiences
            .iter()
            .any(|a| a.is_empty() || a.len() > 256 || a.chars().any(char::is_control))
        {
            problems
                .push("audiences must be 1 to 256 characters, none a control character".to_owned());
        }
        if new
            .redirect_uris
            .iter()
            .chain(&new.post_logout_redirect_uris)
            .any(|u| u.len() > 2048 || !super::redirect::registrable(u))
        {
            problems.push(
            "redirect URIs must be absolute URLs of at most 2048 characters, without a fragment or user information, https or an app's own scheme (http only for loopback)"
                .to_owned(),
        );
        }
        if let Some(uri) = &new.backchannel_logout_uri {
            if new.public {
                problems.push("backchannel_logout_uri needs a confidential client".to_owned());
            }
            if !super::upstream_url_ok(uri) {
                problems.push(
                "backchannel_logout_uri must be an absolute https URL of at most 2048 characters, without a fragment or user information (http only for loopback)"
                    .to_owned(),
            );
            }
        } else if new.backchannel_logout_session_required {
            problems.push(
                "backchannel_logout_session_required needs a backchannel_logout_uri".to_owned(),
            );
        }
        problems.extend(super::client_keys::problems(new));
        problems
    }
}

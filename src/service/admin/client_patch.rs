//! A change to a client (`PATCH /admin/clients/{id}`): the editable fields, absent ones
//! kept, `null` removing the optional ones; `update_client` applies it.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::{AuthMethod, ClientSecurity, GrantType, Profile};

/// Editable fields of a client; absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub first_party: Option<bool>,
    pub grant_types: Option<Vec<GrantType>>,
    pub scopes: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// A URL sets the back-channel logout endpoint; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
    pub backchannel_logout_session_required: Option<bool>,
    /// `client_secret_basic`, `client_secret_post` or `private_key_jwt` (a public client's
    /// is always `none`).
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// A JWK Set replaces the client's keys; `null` removes them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Option<serde_json::Value>>,
    /// A URL sets where the client's keys are read; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub jwks_uri: Option<Option<String>>,
    pub dpop_bound_access_tokens: Option<bool>,
    pub require_pushed_authorization_requests: Option<bool>,
    /// `fapi2` sets the profile; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Profile>)]
    pub profile: Option<Option<Profile>>,
}

impl ClientPatch {
    /// The patched security settings.
    pub(super) fn security(&self, mut security: ClientSecurity) -> ClientSecurity {
        if let Some(method) = self.token_endpoint_auth_method {
            security.token_endpoint_auth_method = Some(method);
        }
        if let Some(jwks) = &self.jwks {
            security.jwks = jwks.clone();
        }
        if let Some(uri) = &self.jwks_uri {
            security.jwks_uri = uri.clone();
        }
        if let Some(bound) = self.dpop_bound_access_tokens {
            security.dpop_bound_access_tokens = bound;
        }
        if let Some(par) = self.require_pushed_authorization_requests {
            security.require_pushed_authorization_requests = par;
        }
        if let Some(profile) = self.profile {
            security.profile = profile;
        }
        security
    }
}

/// A field that is present, `null` or not: `Some(None)` for `null` (absent stays `None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

//! Upstream identity providers (book § Upstream providers): another OpenID provider
//! (`oidc`, its endpoints discovered from its issuer) or a plain OAuth 2 server (`oauth2`,
//! endpoints given; GitHub's shape). A provider is an operator's document, read whole and
//! checked whole here; its client secret is sealed under the KEK by the service before it
//! reaches a store, and never shown again.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A provider's id, chosen by the operator: 1 to 32 of `a-z`, `0-9` and `-`. It names the
/// provider in its callback URL (`/oauth2/upstream/<id>/callback`) and in tokens (`idp`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderId(String);

impl ProviderId {
    pub fn parse(id: &str) -> Result<Self, &'static str> {
        let ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(ProviderId(id.to_owned()))
        } else {
            Err("a provider id is 1 to 32 of a-z, 0-9 and -")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// An OpenID provider: endpoints and keys discovered from `issuer`, an ID token checked.
    Oidc,
    /// A plain OAuth 2 server: endpoints given, the user read from `userinfo_endpoint`
    /// (and `emails_endpoint` when the email is not there).
    Oauth2,
}

/// Which upstream claims are the user's subject, email, email verification and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimNames {
    pub subject: String,
    pub email: String,
    pub email_verified: String,
    pub name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            subject: "sub".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
        }
    }
}

/// How tessera authenticates at a provider's token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    /// The client secret: HTTP Basic, or in the body where the provider takes only that.
    #[default]
    ClientSecretBasic,
    /// An assertion signed with tessera's own signing key (RFC 7523 §2.2), checked by the
    /// provider against tessera's JWKS (`<issuer>/.well-known/jwks.json`); no secret.
    PrivateKeyJwt,
}

impl TokenAuth {
    fn is_default(&self) -> bool {
        *self == TokenAuth::ClientSecretBasic
    }
}

/// A provider's settings: everything but its id and its client secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// Shown on the sign-in page: "Continue with `name`".
    pub name: String,
    /// `oidc`: the issuer, whose `/.well-known/openid-configuration` names the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `oauth2`: where the user is sent to sign in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// `oauth2`: where the code is redeemed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// `oauth2`: where the user's claims are read with the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// `oauth2`: a list of `{email, verified, primary}` when userinfo has no verified email
    /// (GitHub's `/user/emails`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emails_endpoint: Option<String>,
    /// tessera's client id at the provider.
    pub client_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: ClaimNames,
    /// How tessera authenticates at the token endpoint.
    #[serde(default, skip_serializing_if = "TokenAuth::is_default")]
    pub token_endpoint_auth_method: TokenAuth,
    /// A verified email from this provider may link to the tessera account with that email.
    #[serde(default)]
    pub trust_email: bool,
    /// A second factor the provider reports (`amr`) stands in for tessera's own.
    #[serde(default)]
    pub trust_mfa: bool,
    /// Shown on the sign-in page and usable; a disabled provider keeps its links.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// A provider as stored: its settings and its client secret sealed under the KEK.
#[derive(Clone)]
pub struct Provider {
    pub id: ProviderId,
    pub settings: ProviderSettings,
    pub client_secret_sealed: Option<Vec<u8>>,
}

redacted_debug!(Provider, id, settings);

/// Longest list of scopes, and longest text field.
const MAX_SCOPES: usize = 32;
const MAX_TEXT: usize = 256;

impl ProviderSettings {
    /// Every problem with these settings, or none.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let text_ok = |s: &str| {
            !s.trim().is_empty() && s.len() <= MAX_TEXT && !s.chars().any(char::is_control)
        };
        if !text_ok(&self.name) || self.name.chars().count() > 100 {
            problems.push("name must be 1 to 100 characters, none a control character".to_owned());
        }
        if !text_ok(&self.client_id) {
            problems
                .push("client_id must be 1 to 256 characters, none a control character".to_owned());
        }
        if self.scopes.len() > MAX_SCOPES
            || self.scopes.iter().any(|s| {
                s.is_empty()
                    || s.len() > 128
                    || s.chars().any(|c| c.is_whitespace() || c.is_control())
            })
        {
            problems.push(format!(
                "scopes: at most {MAX_SCOPES}, each one token of at most 128 characters"
            ));
        }
        let claims = &self.claims;
        if [
            &claims.subject,
            &claims.email,
            &claims.email_verified,
            &claims.name,
        ]
        .iter()
        .any(|c| !text_ok(c))
        {
            problems.push("claims: each name 1 to 256 characters".to_owned());
        }
        let urls: [(&str, &Option<String>, bool); 5] = match self.kind {
            ProviderKind::Oidc => [
                ("issuer", &self.issuer, true),
                (
                    "authorization_endpoint",
                    &self.authorization_endpoint,
                    false,
                ),
                ("token_endpoint", &self.token_endpoint, false),
                ("userinfo_endpoint", &self.userinfo_endpoint, false),
                ("emails_endpoint", &self.emails_endpoint, false),
            ],
            ProviderKind::Oauth2 => [
                ("authorization_endpoint", &self.authorization_endpoint, true),
                ("token_endpoint", &self.token_endpoint, true),
                ("userinfo_endpoint", &self.userinfo_endpoint, true),
                ("emails_endpoint", &self.emails_endpoint, false),
                ("issuer", &self.issuer, false),
            ],
        };
        for (name, value, required) in urls {
            match value {
                None if required => problems.push(format!("{name} is required for this kind")),
                Some(url) if !upstream_url_ok(url) => problems.push(format!(
                    "{name} must be an absolute https URL of at most 2048 characters, without a fragment or user information (http only for loopback)"
                )),
                _ => {}
            }
        }
        if self.kind == ProviderKind::Oidc
            && (self.authorization_endpoint.is_some()
                || self.token_endpoint.is_some()
                || self.userinfo_endpoint.is_some()
                || self.emails_endpoint.is_some())
        {
            problems.push("an oidc provider's endpoints come from its issuer's discovery document; give only issuer".to_owned());
        }
        if self.kind == ProviderKind::Oauth2 && self.issuer.is_some() {
            problems.push("an oauth2 provider has no issuer; give its endpoints".to_owned());
        }
        problems
    }
}

/// An upstream URL tessera calls or sends browsers to: https, or http on a loopback host
/// (local and test set-ups); no fragment or user information.
pub fn upstream_url_ok(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let scheme_ok =
        url.scheme() == "https" && url.host().is_some() || url.scheme() == "http" && loopback;
    uri.len() <= 2048
        && scheme_ok
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

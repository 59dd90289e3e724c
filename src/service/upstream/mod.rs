//! Signing in through an upstream provider (book § Upstream providers): tessera is the
//! relying party (RFC 6749 §4.1 with PKCE S256, RFC 7636; OpenID Connect Core 1.0 §3.1 for
//! `oidc` providers).
//!
//! ```text
//!  begin ── a state, a nonce and a PKCE verifier kept server side (single use, ten
//!           minutes) with what the sign-in is for ─► the provider's authorization URL
//!  complete ── the state taken (a replay finds nothing), bound to the browser that began
//!              (its CSRF cookie) ─► the provider's error, or the code redeemed and the
//!              user's claims read (an `oidc` ID token verified) ─► an UpstreamUser
//!  account ── linked identity ─► its user
//!          ├─ an account with the email: linked only when the provider is trusted for
//!          │  email and says it is verified; otherwise refused (no second account)
//!          └─ no account: a new one with the identity linked (when sign-up is on)
//! ```
//!
//! Every failure is audited (`upstream_failed`) with a reason that names no secret; the
//! browser sees tessera's own page, never the provider's text.

mod accounts;
mod claims;
mod http;
mod oidc;
mod plain;
mod trip;

pub use accounts::AccountRefusal;
pub use http::{CallError, UpstreamHttp};
pub use trip::browser_digest;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::Clock;
use crate::crypto::SigningAlg;
use crate::crypto::{Kek, Purpose as SealPurpose};
use crate::domain::{Email, Provider, ProviderId, ProviderSettings, UserId};
use crate::service::audit::Auditor;
use crate::store::{IdentityStore, MfaTokenStore, ProviderStore, StoreError, Stores, UserStore};
use crate::tokens::KeyRing;

/// How long the trip to the provider and back may take.
pub(super) const PENDING_TTL: Duration = Duration::from_secs(600);
pub(super) const STATE_LABEL: &[u8] = b"tessera upstream state v1";

/// What a trip to a provider is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum Purpose {
    /// Signing in on the hosted pages: the sealed flow to continue, and the SHA-256 of
    /// the CSRF cookie of the browser that began (the callback must come with it).
    SignIn { flow: String, browser: String },
    /// Linking the provider's identity to `user` (`POST /api/v1/me/identities`): the
    /// callback must come from a browser signed in as that user.
    Link { user: UserId },
}

/// The provider's answer at the callback (`/oauth2/upstream/<id>/callback`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the provider's issuer, checked when given.
    pub iss: Option<String>,
}

/// A user as an upstream provider vouched for them.
#[derive(Debug, Clone)]
pub struct UpstreamUser {
    pub provider: ProviderId,
    pub provider_name: String,
    pub subject: String,
    pub email: Option<Email>,
    /// The provider says the email is verified.
    pub email_verified: bool,
    pub name: Option<String>,
    /// The provider's `amr` values (an `oidc` ID token's).
    pub amr: Vec<String>,
    pub trust_email: bool,
    pub trust_mfa: bool,
}

/// A provider as the sign-in page offers it.
#[derive(Debug, Clone)]
pub struct Button {
    pub id: String,
    pub name: String,
}

/// Why a call to a provider failed: the reason is audited and logged, never shown.
#[derive(Debug)]
pub enum Failed {
    /// The provider's settings cannot make this call (which one).
    Config(&'static str),
    /// The provider could not be reached, or answered what cannot be used.
    Unreachable(String),
    /// The token endpoint refused the code.
    Token(String),
    /// The ID token or the claims were refused.
    Claims(String),
    /// The provider answered the browser with an error (its code, checked to be one).
    Refused(String),
}

impl Failed {
    /// The reason for the log and the audit trail, at most 300 characters: an error's text
    /// can carry what the provider answered, which is neither ours nor bounded.
    fn reason(&self) -> String {
        let reason = match self {
            Failed::Config(what) => format!("the provider's {what} is unusable"),
            Failed::Unreachable(why) | Failed::Token(why) | Failed::Claims(why) => why.clone(),
            Failed::Refused(code) => format!("the provider answered {code}"),
        };
        reason.chars().take(300).collect()
    }
}

/// Why a trip to a provider did not bring a user.
#[derive(Debug)]
pub enum UpstreamError {
    /// No enabled provider has this id.
    Unknown,
    /// The state is unknown, used, expired, another provider's or another browser's.
    Expired,
    /// The provider refused, or what it answered was refused (audited); `purpose` says
    /// where the browser goes on.
    Failed {
        purpose: Purpose,
        name: String,
    },
    Store(StoreError),
}

impl From<StoreError> for UpstreamError {
    fn from(e: StoreError) -> Self {
        UpstreamError::Store(e)
    }
}

/// One provider's settings for one call, its secret opened and tessera's redirect URI.
pub struct Upstream<'a> {
    settings: &'a ProviderSettings,
    secret: Option<&'a str>,
    redirect_uri: &'a str,
    /// Set for `private_key_jwt`: what signs the client assertions.
    assertions: Option<&'a Assertions>,
}

impl Upstream<'_> {
    /// The `client_assertion` parameters for a token endpoint at `audience`, when the
    /// provider takes `private_key_jwt`.
    fn assertion(&self, audience: &str) -> Result<Option<[(&'static str, String); 2]>, Failed> {
        let Some(assertions) = self.assertions else {
            return Ok(None);
        };
        let jwt = assertions.sign(&self.settings.client_id, audience)?;
        Ok(Some([
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", jwt),
        ]))
    }

    fn issuer(&self) -> Result<&str, Failed> {
        self.settings
            .issuer
            .as_deref()
            .ok_or(Failed::Config("issuer"))
    }
}

/// Signs client assertions (RFC 7523 §2.2) with tessera's active signing key: `iss` and
/// `sub` the client id, `aud` the token endpoint, a fresh `jti`, a minute to live.
#[derive(Clone)]
pub struct Assertions {
    pub keyring: Arc<KeyRing>,
    pub alg: SigningAlg,
    pub clock: Arc<dyn Clock>,
}

impl Assertions {
    fn sign(&self, client_id: &str, audience: &str) -> Result<String, Failed> {
        let now = self.clock.now().unix_timestamp();
        let claims = json!({
            "iss": client_id, "sub": client_id, "aud": audience,
            "jti": uuid::Uuid::new_v4().simple().to_string(),
            "iat": now, "exp": now + 60,
        });
        crate::tokens::sign(&self.keyring, self.alg, "JWT", &claims)
            .map_err(|_| Failed::Config("signing key (no active key for the assertion)"))
    }
}

/// The relying-party side: the providers, the pending trips (kept in the store of other
/// single-use tokens), the users and their links, the KEK (providers' secrets), the
/// upstream HTTP client and discovery cache, tessera's issuer (its callback URLs), the
/// audit trail and the clock.
#[derive(Clone)]
pub struct Upstreams {
    providers: Arc<dyn ProviderStore>,
    pending: Arc<dyn MfaTokenStore>,
    users: Arc<dyn UserStore>,
    identities: Arc<dyn IdentityStore>,
    kek: Kek,
    http: UpstreamHttp,
    assertions: Assertions,
    discovery: oidc::Discovery,
    issuer: String,
    /// Whether a first upstream sign-in without an account makes one.
    signup: bool,
    audit: Auditor,
    clock: Arc<dyn Clock>,
}

/// What `Upstreams` is built from, beside the stores.
pub struct UpstreamParts {
    pub http: UpstreamHttp,
    pub assertions: Assertions,
    pub kek: Kek,
    pub issuer: String,
    pub signup: bool,
    pub audit: Auditor,
    pub clock: Arc<dyn Clock>,
}

impl Upstreams {
    pub fn new(stores: &Stores, parts: UpstreamParts) -> Self {
        let http = parts.http;
        Upstreams {
            providers: stores.providers.clone(),
            pending: stores.mfa_tokens.clone(),
            users: stores.users.clone(),
            identities: stores.identities.clone(),
            kek: parts.kek,
            discovery: oidc::Discovery::new(http.clone()),
            http,
            assertions: parts.assertions,
            issuer: parts.issuer.trim_end_matches('/').to_owned(),
            signup: parts.signup,
            audit: parts.audit,
            clock: parts.clock,
        }
    }

    /// The enabled providers, for the sign-in page (none when the store fails: the page
    /// still offers the other ways, and the failure is logged).
    pub async fn buttons(&self) -> Vec<Button> {
        match self.providers.list_providers().await {
            Ok(all) => all
                .into_iter()
                .filter(|p| p.settings.enabled)
                .map(|p| Button {
                    id: p.id.to_string(),
                    name: p.settings.name,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not list the upstream providers");
                Vec::new()
            }
        }
    }

    /// Where the provider sends the browser back to.
    pub fn callback_url(&self, id: &ProviderId) -> String {
        format!("{}/oauth2/upstream/{id}/callback", self.issuer)
    }

    /// The enabled provider `id`.
    async fn enabled(&self, id: &str) -> Result<Provider, UpstreamError> {
        let id = ProviderId::parse(id).map_err(|_| UpstreamError::Unknown)?;
        match self.providers.find_provider(&id).await? {
            Some(p) if p.settings.enabled => Ok(p),
            _ => Err(UpstreamError::Unknown),
        }
    }

    fn secret(&self, provider: &Provider) -> Result<Option<String>, Failed> {
        let Some(sealed) = &provider.client_secret_sealed else {
            return Ok(None);
        };
        let opened = self
            .kek
            .open(
                SealPurpose::ProviderSecret,
                sealed,
                provider.id.as_str().as_bytes(),
            )
            .map_err(|_| Failed::Config("client_secret (it does not open under this KEK)"))?;
        String::from_utf8(opened)
            .map(Some)
            .map_err(|_| Failed::Config("client_secret"))
    }
}

/// An error with its causes, for the log and the audit trail ("a: b: c").
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

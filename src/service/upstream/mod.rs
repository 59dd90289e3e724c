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
mod http;
mod oidc;
mod plain;

pub use accounts::AccountRefusal;
pub use http::{CallError, UpstreamHttp};

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::crypto::{Kek, Purpose as SealPurpose};
use crate::domain::{Email, Provider, ProviderId, ProviderKind, ProviderSettings, UserId};
use crate::service::audit::Auditor;
use crate::store::{
    AuditEvent, IdentityStore, MfaTokenStore, ProviderStore, StoreError, Stores, UserStore,
};

/// How long the trip to the provider and back may take.
const PENDING_TTL: Duration = Duration::from_secs(600);
const STATE_LABEL: &[u8] = b"tessera upstream state v1";

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

/// What is kept between `begin` and `complete`.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: ProviderId,
    expires_at: i64,
    nonce: String,
    verifier: String,
    purpose: Purpose,
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
    fn reason(&self) -> String {
        match self {
            Failed::Config(what) => format!("the provider's {what} is unusable"),
            Failed::Unreachable(why) | Failed::Token(why) | Failed::Claims(why) => why.clone(),
            Failed::Refused(code) => format!("the provider answered {code}"),
        }
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
}

impl Upstream<'_> {
    fn issuer(&self) -> Result<&str, Failed> {
        self.settings
            .issuer
            .as_deref()
            .ok_or(Failed::Config("issuer"))
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

    /// Begins a trip to provider `id` for `purpose`: the URL to send the browser to.
    pub async fn begin(&self, id: &str, purpose: Purpose) -> Result<String, UpstreamError> {
        let provider = self.enabled(id).await?;
        let (state, nonce, verifier) = (random(32), random(32), random(48));
        let redirect_uri = self.callback_url(&provider.id);
        let url = self
            .authorization_url(&provider, &redirect_uri, &state, &nonce, &verifier)
            .await;
        let url = match url {
            Ok(url) => url,
            Err(failed) => return Err(self.failed(&provider, purpose, failed).await),
        };
        let now = self.clock.now();
        let pending = Pending {
            provider: provider.id.clone(),
            expires_at: (now + PENDING_TTL).unix_timestamp(),
            nonce,
            verifier,
            purpose,
        };
        let value = serde_json::to_string(&pending).map_err(|e| StoreError::Other(e.into()))?;
        self.pending
            .put_mfa_token(&state_digest(&state), &value, PENDING_TTL, now)
            .await?;
        Ok(url)
    }

    async fn authorization_url(
        &self,
        provider: &Provider,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<String, Failed> {
        let secret = self.secret(provider)?;
        let upstream = Upstream {
            settings: &provider.settings,
            secret: secret.as_deref(),
            redirect_uri,
        };
        match provider.settings.kind {
            ProviderKind::Oidc => {
                self.discovery
                    .authorization_url(&upstream, state, nonce, verifier)
                    .await
            }
            ProviderKind::Oauth2 => plain::authorization_url(&upstream, state, verifier),
        }
    }

    /// Completes a trip: the pending state taken (once), checked to be provider `id`'s and,
    /// for a sign-in, this browser's (`csrf_cookie`); then the provider's answer.
    pub async fn complete(
        &self,
        id: &str,
        callback: &Callback,
        csrf_cookie: Option<&str>,
    ) -> Result<(Purpose, UpstreamUser), UpstreamError> {
        let state = callback
            .state
            .as_deref()
            .filter(|s| (1..=128).contains(&s.len()))
            .ok_or(UpstreamError::Expired)?;
        let now = self.clock.now();
        let value = self
            .pending
            .take_mfa_token(&state_digest(state), now)
            .await?
            .ok_or(UpstreamError::Expired)?;
        let pending: Pending = serde_json::from_str(&value).map_err(|_| UpstreamError::Expired)?;
        if pending.provider.as_str() != id || now.unix_timestamp() > pending.expires_at {
            return Err(UpstreamError::Expired);
        }
        if let Purpose::SignIn { browser, .. } = &pending.purpose {
            let presented = csrf_cookie.map(browser_digest).unwrap_or_default();
            if !bool::from(presented.as_bytes().ct_eq(browser.as_bytes())) {
                return Err(UpstreamError::Expired);
            }
        }
        let provider = self.enabled(id).await?;
        match self.redeem(&provider, callback, &pending).await {
            Ok(user) => Ok((pending.purpose, user)),
            Err(failed) => Err(self.failed(&provider, pending.purpose, failed).await),
        }
    }

    async fn redeem(
        &self,
        provider: &Provider,
        callback: &Callback,
        pending: &Pending,
    ) -> Result<UpstreamUser, Failed> {
        if let Some(error) = &callback.error {
            // only an error code's own characters are kept (RFC 6749 §4.1.2.1)
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(Failed::Refused(code));
        }
        // RFC 9207: an answer that names another issuer is a mix-up
        if let (Some(iss), Some(issuer)) = (&callback.iss, &provider.settings.issuer) {
            if iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
                return Err(Failed::Claims(
                    "the callback's iss is not the provider's".into(),
                ));
            }
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| (1..=2048).contains(&c.len()))
            .ok_or_else(|| Failed::Refused("no code".into()))?;
        let secret = self.secret(provider)?;
        let redirect_uri = self.callback_url(&provider.id);
        let upstream = Upstream {
            settings: &provider.settings,
            secret: secret.as_deref(),
            redirect_uri: &redirect_uri,
        };
        let claims = match provider.settings.kind {
            ProviderKind::Oidc => {
                self.discovery
                    .redeem(&upstream, code, &pending.nonce, &pending.verifier)
                    .await?
            }
            ProviderKind::Oauth2 => {
                plain::redeem(&self.http, &upstream, code, &pending.verifier).await?
            }
        };
        user_of(provider, &claims)
    }

    /// Audits and logs a failed trip.
    async fn failed(&self, provider: &Provider, purpose: Purpose, failed: Failed) -> UpstreamError {
        let reason = failed.reason();
        tracing::info!(provider = %provider.id, reason, "an upstream sign-in failed");
        crate::metrics::upstream_failed(provider.id.as_str());
        let mut event = AuditEvent::new("upstream_failed", "denied")
            .detail(json!({ "provider": provider.id, "reason": reason }));
        if let Purpose::Link { user } = &purpose {
            event = event.user(*user);
        }
        self.audit.record(event).await;
        UpstreamError::Failed {
            purpose,
            name: provider.settings.name.clone(),
        }
    }
}

/// The user the claims describe, read with the provider's claim names.
fn user_of(provider: &Provider, claims: &Map<String, Value>) -> Result<UpstreamUser, Failed> {
    let names = &provider.settings.claims;
    let subject = match claims.get(&names.subject) {
        Some(Value::String(s)) => s.clone(),
        // GitHub's `id` is a number
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(Failed::Claims(format!(
                "no subject claim ({})",
                names.subject
            )))
        }
    };
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err(Failed::Claims("the subject is empty or too long".into()));
    }
    let email = claims
        .get(&names.email)
        .and_then(Value::as_str)
        .and_then(|e| Email::parse(e).ok());
    let email_verified = match claims.get(&names.email_verified) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let name = claims
        .get(&names.name)
        .and_then(Value::as_str)
        .and_then(|n| crate::domain::display_name(Some(n)).ok().flatten());
    let amr = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(UpstreamUser {
        provider: provider.id.clone(),
        provider_name: provider.settings.name.clone(),
        subject,
        email,
        email_verified,
        name,
        amr,
        trust_email: provider.settings.trust_email,
        trust_mfa: provider.settings.trust_mfa,
    })
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

fn random(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The key a pending trip is kept under: its state's digest, apart from other tokens'.
fn state_digest(state: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(STATE_LABEL);
    hash.update(state.as_bytes());
    hex::encode(hash.finalize())
}

/// What a pending sign-in keeps of the browser's CSRF cookie.
pub fn browser_digest(csrf_cookie: &str) -> String {
    hex::encode(Sha256::digest(csrf_cookie.as_bytes()))
}

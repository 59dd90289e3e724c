//! One trip to a provider (book § Upstream providers): begun with a state, a nonce and a
//! PKCE verifier kept server side for ten minutes, completed once, by the browser that
//! began it, with the provider's answer redeemed and read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::claims::user_of;
use super::{
    plain, Callback, Failed, Purpose, Upstream, UpstreamError, UpstreamUser, Upstreams,
    PENDING_TTL, STATE_LABEL,
};
use crate::domain::{Provider, ProviderId, ProviderKind, TokenAuth};
use crate::store::{AuditEvent, StoreError};

/// What is kept between `begin` and `complete`.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: ProviderId,
    expires_at: i64,
    nonce: String,
    verifier: String,
    purpose: Purpose,
}

impl Upstreams {
    /// `provider`'s settings for one call: its secret, or what signs its assertions.
    fn upstream<'a>(
        &'a self,
        provider: &'a Provider,
        secret: Option<&'a str>,
        redirect_uri: &'a str,
    ) -> Upstream<'a> {
        let by_key = provider.settings.token_endpoint_auth_method == TokenAuth::PrivateKeyJwt;
        Upstream {
            settings: &provider.settings,
            secret: if by_key { None } else { secret },
            redirect_uri,
            assertions: by_key.then_some(&self.assertions),
        }
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
        let upstream = self.upstream(provider, secret.as_deref(), redirect_uri);
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
        let upstream = self.upstream(provider, secret.as_deref(), &redirect_uri);
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

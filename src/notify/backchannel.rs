//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 §2.5, book
//! § Integrating): one signed logout token POSTed as `logout_token=…` to a relying party's
//! `backchannel_logout_uri`. The outbox calls this for each message and decides about
//! retries from the answer:
//! - 2xx (the specification asks for 200; 204 is common): delivered;
//! - another 4xx but 408 and 429 (the receiver refused this token, §2.8): given up at once;
//! - a 5xx, 408, 429, a redirect, a timeout or no connection: tried again after the backoff.
//!
//! Redirects are not followed (the URI is exactly what the operator registered), the
//! answer's body is never read, and errors describe the status, never the token.

use std::time::Duration;

use super::NotifyError;

/// How long one POST may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts logout tokens to relying parties.
#[derive(Clone)]
pub struct BackChannel {
    client: reqwest::Client,
}

impl BackChannel {
    pub fn new() -> Result<Self, NotifyError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotifyError::Failed(e.to_string()))?;
        Ok(BackChannel { client })
    }

    /// POSTs `logout_token` to `uri`.
    pub async fn post(&self, uri: &str, logout_token: &str) -> Result<(), NotifyError> {
        let response = self
            .client
            .post(uri)
            .form(&[("logout_token", logout_token)])
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "unreachable"
                };
                NotifyError::Failed(format!(
                    "back-channel logout endpoint {what} ({})",
                    e.without_url()
                ))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let described = format!("back-channel logout endpoint answered {status}");
        let refused = status.is_client_error()
            && status != reqwest::StatusCode::REQUEST_TIMEOUT
            && status != reqwest::StatusCode::TOO_MANY_REQUESTS;
        if refused {
            Err(NotifyError::Refused(described))
        } else {
            Err(NotifyError::Failed(described))
        }
    }
}

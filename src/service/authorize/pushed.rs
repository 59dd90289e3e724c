//! Pushed authorization requests (RFC 9126): a client posts its authorization parameters
//! to `/oauth2/par` and sends the browser to `/oauth2/authorize` with `client_id` and the
//! `request_uri` it got back. The parameters wait server side for 60 s, single use, bound
//! to the client (in the store of other short-lived single-use records); at authorize they
//! replace whatever the front channel carried besides `client_id` and `request_uri`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{random_token, Params, Refusal};
use crate::clock::Clock;
use crate::crypto::record_digest;
use crate::domain::Client;
use crate::store::{MfaTokenStore, StoreError};

/// The prefix of every `request_uri` tessera hands out (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request waits for its browser.
pub const PUSHED_TTL: Duration = Duration::from_secs(60);

/// What waits under a `request_uri`.
#[derive(Serialize, Deserialize)]
struct Held {
    client_id: String,
    params: Params,
    /// Unix seconds: judged by the clock, whatever the store's own expiry does.
    expires_at: i64,
}

/// Pushed requests: where they wait, the clock, and whether every client must push.
#[derive(Clone)]
pub struct PushedRequests {
    store: Arc<dyn MfaTokenStore>,
    clock: Arc<dyn Clock>,
    required_for_all: bool,
}

impl PushedRequests {
    pub fn new(
        store: Arc<dyn MfaTokenStore>,
        clock: Arc<dyn Clock>,
        required_for_all: bool,
    ) -> Self {
        PushedRequests {
            store,
            clock,
            required_for_all,
        }
    }

    /// Whether `client`'s authorization requests must come through PAR.
    pub fn required(&self, client: &Client) -> bool {
        self.required_for_all || client.must_push()
    }

    /// Keeps `params` (already validated for `client`) and returns its `request_uri`.
    pub async fn push(&self, client: &Client, params: Params) -> Result<String, StoreError> {
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_token(32));
        let now = self.clock.now();
        let held = Held {
            client_id: client.id.to_string(),
            params,
            expires_at: (now + PUSHED_TTL).unix_timestamp(),
        };
        let value = serde_json::to_string(&held).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store
            .put_mfa_token(&digest(&request_uri), &value, PUSHED_TTL, now)
            .await?;
        Ok(request_uri)
    }

    /// The parameters an authorization request stands for: its own, or, with a pushed
    /// `request_uri`, the pushed ones (taken: a second use finds nothing).
    pub async fn resolve(&self, params: Params) -> Result<Params, Refusal> {
        let Some(uri) = params
            .request_uri
            .as_deref()
            .filter(|u| u.starts_with(REQUEST_URI_PREFIX))
        else {
            return Ok(params);
        };
        let now = self.clock.now();
        let held = self
            .store
            .take_mfa_token(&digest(uri), now)
            .await?
            .and_then(|value| serde_json::from_str::<Held>(&value).ok())
            .filter(|held| held.expires_at > now.unix_timestamp())
            .ok_or_else(|| {
                Refusal::Page(
                    "This sign-in request has expired or was already used. Go back to the application and start again."
                        .into(),
                )
            })?;
        if params.client_id.as_deref() != Some(held.client_id.as_str()) {
            return Err(Refusal::Page(
                "This sign-in request was not made by the application that sent you here (request_uri)."
                    .into(),
            ));
        }
        Ok(Params {
            pushed: true,
            ..held.params
        })
    }
}

/// The SHA-256 a `request_uri` is kept under (with a label, apart from other records).
fn digest(request_uri: &str) -> String {
    record_digest("par", &[request_uri])
}

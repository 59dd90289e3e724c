//! What the hosted pages keep in the browser, checked on every post: the sealed flow, the
//! CSRF token tied to the `tessera_csrf` cookie, and the SSO session behind `tessera_sso`.
//! Secrets are compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Params;
use std::sync::Arc;

use crate::clock::Clock;
use crate::crypto::Kek;
use crate::domain::User;
use crate::store::{SsoSession, SsoStore, StoreError, Stores, UserStore};

/// How long a sign-in may take between the first page and the last form.
const FLOW_TTL_SECS: i64 = 1800;
const FLOW_LABEL: &[u8] = b"tessera authorize flow v1";
const CSRF_LABEL: &[u8] = b"tessera csrf v1";

/// The sealed form of a flow the pages carry.
#[derive(Serialize, Deserialize)]
struct FlowBody {
    params: Params,
    began: i64,
    /// The sign-in session a page was shown for (the consent page): its post must come
    /// with that same session, which passed `prompt`/`max_age` when the page was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sso: Option<String>,
    /// The parameters came through PAR.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pushed: bool,
}

/// A flow opened from a form: its parameters and the session its page was shown for.
pub struct OpenedFlow {
    pub params: Params,
    pub sso: Option<String>,
}

/// A new value for the browser's CSRF cookie.
pub fn new_csrf_cookie() -> String {
    random_token(32)
}

pub(super) fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The browser's side of a sign-in: sealed flows, CSRF tokens and sign-in (SSO)
/// sessions. It reads the KEK (for the MACs), the sign-in and user stores, the sign-in
/// lifetime and the clock.
#[derive(Clone)]
pub struct Browser {
    kek: Kek,
    sso: Arc<dyn SsoStore>,
    users: Arc<dyn UserStore>,
    sso_ttl: std::time::Duration,
    clock: Arc<dyn Clock>,
}

impl Browser {
    pub fn new(
        stores: &Stores,
        kek: Kek,
        sso_ttl: std::time::Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Browser {
            kek,
            sso: stores.sso.clone(),
            users: stores.users.clone(),
            sso_ttl,
            clock,
        }
    }

    /// Seals `params` for the pages' hidden `flow` field, bound to the session `sso` where the
    /// page was shown to a signed-in user.
    pub fn seal_flow(&self, params: &Params, sso: Option<&str>) -> String {
        let body = FlowBody {
            params: params.clone(),
            began: self.clock.now().unix_timestamp(),
            sso: sso.map(str::to_owned),
            pushed: params.pushed,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mac = self.kek.mac(FLOW_LABEL, &json);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&json),
            URL_SAFE_NO_PAD.encode(mac)
        )
    }

    /// The parameters of a flow this service sealed, if it is intact and not too old.
    pub fn open_flow(&self, flow: &str) -> Option<OpenedFlow> {
        let (json, mac) = flow.split_once('.')?;
        let json = URL_SAFE_NO_PAD.decode(json).ok()?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = self.kek.mac(FLOW_LABEL, &json);
        if !bool::from(expected.as_slice().ct_eq(&mac)) {
            return None;
        }
        let body: FlowBody = serde_json::from_slice(&json).ok()?;
        let age = self.clock.now().unix_timestamp() - body.began;
        (0..FLOW_TTL_SECS).contains(&age).then_some(OpenedFlow {
            params: Params {
                pushed: body.pushed,
                ..body.params
            },
            sso: body.sso,
        })
    }

    /// The token the pages' forms carry for the browser holding `cookie`.
    pub fn csrf_token(&self, cookie: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.kek.mac(CSRF_LABEL, cookie.as_bytes()))
    }

    /// Whether a form's `token` belongs to the browser's CSRF `cookie`.
    pub fn csrf_matches(&self, cookie: Option<&str>, token: Option<&str>) -> bool {
        match (cookie, token) {
            (Some(cookie), Some(token)) if !cookie.is_empty() => {
                bool::from(self.csrf_token(cookie).as_bytes().ct_eq(token.as_bytes()))
            }
            _ => false,
        }
    }

    /// The live SSO session the `tessera_sso` cookie value (`<id>.<secret>`) stands for,
    /// with its user.
    pub async fn sso_session(
        &self,
        cookie: Option<&str>,
    ) -> Result<Option<(SsoSession, User)>, StoreError> {
        let Some((id, secret)) = cookie.and_then(|c| c.split_once('.')) else {
            return Ok(None);
        };
        if id.len() > 64 || secret.len() > 64 {
            return Ok(None);
        }
        let Some(session) = self.sso.find_sso(id, self.clock.now()).await? else {
            return Ok(None);
        };
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if !bool::from(presented.ct_eq(&session.secret_sha256)) {
            return Ok(None);
        }
        let user = self.users.find_user(session.user_id).await?;
        Ok(user.map(|user| (session, user)))
    }

    /// Starts a browser sign-in session for `user`; returns it and the cookie value.
    pub async fn start_sso(
        &self,
        user: &User,
        amr: Vec<String>,
    ) -> Result<(SsoSession, String), StoreError> {
        let now = self.clock.now();
        let (id, secret) = (random_token(16), random_token(32));
        let session = SsoSession {
            id: id.clone(),
            user_id: user.id,
            secret_sha256: Sha256::digest(secret.as_bytes()).into(),
            auth_time: now,
            amr,
            created_at: now,
            expires_at: now + self.sso_ttl,
        };
        self.sso.create_sso(&session).await?;
        Ok((session, format!("{id}.{secret}")))
    }
}

//! RP-initiated logout (book § Sign-in with the authorization-code flow; OpenID Connect RP-Initiated Logout 1.0): ends the
//! browser's sign-in (SSO) session and every refresh family started under it, and the
//! session an `id_token_hint` names; then back to a registered `post_logout_redirect_uri`
//! (exact match) or tessera's signed-out page. Everything is checked before anything ends.
//!
//! Without an `id_token_hint` for the signed-in user, a link from anywhere could sign the
//! user out: such a request ends nothing until the user confirms it (`Plan::needs_confirmation`;
//! the page and its CSRF-protected form are the web layer's).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::domain::ClientId;
use crate::domain::FamilyId;
use crate::domain::UserId;
use crate::service::audit::Auditor;
use crate::service::authorize::Browser;
use crate::service::grants::TokenIssuer;
use crate::service::sessions::Sessions;
use crate::store::{AuditEvent, ClientStore, FamilyStore, StoreError, Stores};

#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

pub enum Outcome {
    /// Back to the client: the registered URI with `state`.
    Redirect(String),
    /// Tessera's own signed-out page.
    SignedOut,
}

pub enum Refusal {
    /// Shown on tessera's error page; nothing was ended.
    Page(&'static str),
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

/// A checked sign-out request: what it would end and where it would go.
pub struct Plan {
    hint: Option<crate::tokens::IdTokenHint>,
    client_id: Option<String>,
    back: Option<String>,
    session: Option<(crate::store::SsoSession, crate::domain::User)>,
}

impl Plan {
    /// The browser has a sign-in and nothing proves the request comes from an application
    /// that user signed in to: an ID token of that user's. The user must confirm.
    pub fn needs_confirmation(&self) -> bool {
        let Some((_, owner)) = &self.session else {
            return false;
        };
        let hinted = self
            .hint
            .as_ref()
            .and_then(|h| h.sub.parse::<UserId>().ok());
        hinted != Some(owner.id)
    }

    /// The origin the sign-out returns to, if it returns to the client: the confirmation
    /// page's form must be allowed to end up there (CSP `form-action` covers redirects).
    pub fn return_origin(&self) -> Option<String> {
        self.back
            .as_deref()
            .and_then(crate::service::authorize::form_target)
    }

    /// The signed-in user's email, for the confirmation page ('' when signed out).
    pub fn signed_in_email(&self) -> String {
        self.session
            .as_ref()
            .map(|(_, user)| user.email.as_str().to_owned())
            .unwrap_or_default()
    }
}

/// RP-initiated logout: the issuer (its key ring checks `id_token_hint`), the client and
/// session stores, the browser's sign-in sessions, the sessions service and the audit trail.
#[derive(Clone)]
pub struct SignOut {
    issuer: TokenIssuer,
    clients: Arc<dyn ClientStore>,
    families: Arc<dyn FamilyStore>,
    browser: Browser,
    sessions: Sessions,
    audit: Auditor,
}

impl SignOut {
    pub fn new(
        stores: &Stores,
        issuer: TokenIssuer,
        browser: Browser,
        sessions: Sessions,
        audit: Auditor,
    ) -> Self {
        SignOut {
            issuer,
            clients: stores.clients.clone(),
            families: stores.families.clone(),
            browser,
            sessions,
            audit,
        }
    }

    /// Checks a sign-out request; ends nothing. `sso_cookie` is the browser's `tessera_sso`.
    pub async fn plan(&self, params: &Params, sso_cookie: Option<&str>) -> Result<Plan, Refusal> {
        let hint = match params.id_token_hint.as_deref() {
            None => None,
            Some(token) => Some(
                crate::tokens::verify_id_token_hint(
                    &self.issuer.keyring,
                    token,
                    &self.issuer.policy.issuer,
                )
                .map_err(|_| {
                    Refusal::Page(
                        "The sign-out request carries an ID token this service did not issue.",
                    )
                })?,
            ),
        };
        let client_id = match (
            hint.as_ref().map(|h| h.aud.as_str()),
            params.client_id.as_deref(),
        ) {
            (Some(aud), Some(id)) if aud != id => {
                return Err(Refusal::Page(
                    "The sign-out request names two different applications.",
                ))
            }
            (Some(aud), _) => Some(aud.to_owned()),
            (None, id) => id.map(str::to_owned),
        };
        let back = match params.post_logout_redirect_uri.as_deref() {
            None => None,
            Some(uri) => {
                let client = match client_id.as_deref().map(ClientId::parse) {
                    Some(Ok(id)) => self.clients.find_client(&id).await?,
                    _ => None,
                };
                let registered =
                    client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
                if !registered {
                    return Err(Refusal::Page(
                        "The address to return to after signing out is not one this application registered.",
                    ));
                }
                let mut url = url::Url::parse(uri)
                    .map_err(|_| Refusal::Page("The address to return to is not valid."))?;
                if let Some(s) = &params.state {
                    url.query_pairs_mut().append_pair("state", s);
                }
                Some(url.to_string())
            }
        };
        let session = self.browser.sso_session(sso_cookie).await?;
        Ok(Plan {
            hint,
            client_id,
            back,
            session,
        })
    }

    /// Signs the browser out as `plan` says (the caller asked for confirmation where
    /// `needs_confirmation`).
    pub async fn logout(&self, plan: Plan, ip: Option<String>) -> Result<Outcome, Refusal> {
        let Plan {
            hint,
            client_id,
            back,
            session,
        } = plan;
        let mut user = hint.as_ref().and_then(|h| h.sub.parse::<UserId>().ok());
        let mut ended = 0usize;
        if let Some((sso, owner)) = &session {
            ended += self.sessions.end_sso(&sso.id).await?;
            user = Some(owner.id);
        }
        if let Some(sid) = hint
            .as_ref()
            .and_then(|h| h.sid.clone())
            .map(FamilyId::from)
        {
            let now = self.issuer.clock.now();
            let family = self.families.find_family(&sid, now).await?;
            // only the hint's own user's session, issued to the hint's client
            if family
                .is_some_and(|f| Some(f.user_id) == hint.as_ref().and_then(|h| h.sub.parse().ok()))
            {
                let session_ended = self.sessions.end_family(&sid, client_id.as_deref()).await?;
                ended += usize::from(session_ended);
            }
        }
        let mut event = AuditEvent::new("logout", "ok")
            .ip(ip)
            .detail(json!({ "sso": session.is_some(), "sessions_ended": ended }));
        if let Some(user) = user {
            event = event.user(user);
        }
        if let Some(client) = &client_id {
            event = event.client(client.as_str());
        }
        self.audit.record(event).await;
        Ok(back.map_or(Outcome::SignedOut, Outcome::Redirect))
    }
}

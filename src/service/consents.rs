//! The consents users give clients that are not first-party (OIDC Core §3.1.2.4, book
//! § Sign-in with the authorization-code flow): granted on the hosted consent page, listed
//! and revoked by the user. Each write has its audit event here, next to it.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{Client, Scope, User};
use crate::service::audit::Auditor;
use crate::service::sessions::Sessions;
use crate::store::{Consent, ConsentStore, FamilyStore, StoreError, Stores};

/// Consents: the consent store, the sessions a revocation ends, the audit trail and the
/// clock.
#[derive(Clone)]
pub struct Consents {
    store: Arc<dyn ConsentStore>,
    families: Arc<dyn FamilyStore>,
    sessions: Sessions,
    audit: Auditor,
    clock: Arc<dyn Clock>,
}

impl Consents {
    pub fn new(stores: &Stores, sessions: Sessions, audit: Auditor, clock: Arc<dyn Clock>) -> Self {
        Consents {
            store: stores.consents.clone(),
            families: stores.families.clone(),
            sessions,
            audit,
            clock,
        }
    }

    /// The user's remembered consents, by client.
    pub async fn list(&self, user: &User) -> Result<Vec<Consent>, StoreError> {
        self.store.list_consents(user.id).await
    }

    /// Whether the user's remembered consent to `client` covers all of `scope`.
    pub async fn covers(
        &self,
        user: &User,
        client: &Client,
        scope: &Scope,
    ) -> Result<bool, StoreError> {
        let held = self.store.find_consent(user.id, client.id.as_str()).await?;
        Ok(held.is_some_and(|c| scope.iter().all(|s| c.scopes.iter().any(|held| held == s))))
    }

    /// Remembers that the user allowed `client` the `scope`, and audits it.
    pub async fn grant(
        &self,
        user: &User,
        client: &Client,
        scope: &Scope,
    ) -> Result<(), StoreError> {
        let scopes: Vec<String> = scope.iter().map(str::to_owned).collect();
        let now = self.clock.now();
        self.store
            .grant_consent(user.id, client.id.as_str(), &scopes, now)
            .await?;
        let event = crate::store::AuditEvent::new("consent_granted", "ok")
            .user(user.id)
            .client(client.id.as_str())
            .detail(serde_json::json!({ "scopes": scopes }));
        self.audit.record(event).await;
        Ok(())
    }

    /// Revokes the user's remembered consent to `client_id` and ends every session of the
    /// user at that client, with feed events: a revoked consent leaves no token of
    /// that client working. Whether there was a consent to revoke.
    pub async fn revoke(&self, user: &User, client_id: &str) -> Result<bool, StoreError> {
        if !self.store.revoke_consent(user.id, client_id).await? {
            return Ok(false);
        }
        let now = self.clock.now();
        let mut ended = Vec::new();
        for session in self.families.list_sessions(user.id, now).await? {
            if session.client_id == client_id {
                ended.extend(self.families.revoke_family(&session.id, None, now).await?);
            }
        }
        self.sessions.feed_ended(&ended).await?;
        let event = crate::store::AuditEvent::new("consent_revoked", "ok")
            .user(user.id)
            .client(client_id)
            .detail(serde_json::json!({ "sessions_ended": ended.len() }));
        self.audit.record(event).await;
        Ok(true)
    }
}

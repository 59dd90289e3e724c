//! Which tessera user an upstream identity signs in as (book § Upstream providers), and
//! the links a user makes and removes (`/api/v1/me/identities`).
//!
//! - A linked identity signs in as its user.
//! - Otherwise, an account with the upstream's email is linked only when the provider is
//!   trusted for email (`trust_email`) and says the email is verified; else the sign-in
//!   is refused (emails stay unique: no second account).
//! - Otherwise a new account is made, with the identity linked in the same transaction
//!   (when sign-up through providers is on). It has no password
//!   ([`crate::domain::NO_PASSWORD`]); its email counts as verified when the provider is
//!   trusted for email and says so.

use serde_json::json;

use super::{UpstreamUser, Upstreams};
use crate::domain::{User, UserId, NO_PASSWORD};
use crate::store::{AuditEvent, CreateUserError, Identity, NewUser, StoreError, Unlinked};

/// Why an upstream identity did not give a user.
#[derive(Debug)]
pub enum AccountRefusal {
    /// An account has the email and may not be linked automatically: sign in with it,
    /// then link from the account API.
    EmailTaken,
    /// No account, and sign-up through providers is off.
    NoAccount,
    /// No usable email came from the provider, and an account would need one.
    NoEmail,
    /// (Linking) the identity is linked to another user.
    LinkedElsewhere,
    Store(StoreError),
}

impl From<StoreError> for AccountRefusal {
    fn from(e: StoreError) -> Self {
        AccountRefusal::Store(e)
    }
}

fn identity(user: UserId, upstream: &UpstreamUser, now: time::OffsetDateTime) -> Identity {
    Identity {
        id: uuid::Uuid::new_v4().simple().to_string(),
        user_id: user,
        provider: upstream.provider.clone(),
        subject: upstream.subject.clone(),
        email: upstream.email.as_ref().map(|e| e.as_str().to_owned()),
        linked_at: now,
    }
}

impl Upstreams {
    /// The user `upstream` signs in as, linking or making one as the rules say.
    pub async fn account(&self, upstream: &UpstreamUser) -> Result<User, AccountRefusal> {
        if let Some(linked) = self
            .identities
            .find_identity(&upstream.provider, &upstream.subject)
            .await?
        {
            return self
                .users
                .find_user(linked.user_id)
                .await?
                .ok_or(AccountRefusal::NoAccount);
        }
        let email = upstream.email.clone().ok_or(AccountRefusal::NoEmail)?;
        let now = self.clock.now();
        if let Some(user) = self.users.find_user_by_email(&email).await? {
            if !(upstream.trust_email && upstream.email_verified) {
                self.refused(upstream, Some(user.id), "email_taken").await;
                return Err(AccountRefusal::EmailTaken);
            }
            let link = identity(user.id, upstream, now);
            if !self.identities.link_identity(&link).await? {
                // linked meanwhile by a parallel sign-in: as that one found it
                return Box::pin(self.account(upstream)).await;
            }
            self.linked(user.id, upstream, "email").await;
            return Ok(user);
        }
        if !self.signup {
            self.refused(upstream, None, "no_account").await;
            return Err(AccountRefusal::NoAccount);
        }
        let id = UserId::generate();
        let new = NewUser {
            id,
            email,
            name: upstream.name.clone(),
            email_verified: upstream.trust_email && upstream.email_verified,
            password_hash: NO_PASSWORD.to_owned(),
            welcome: None,
            identity: Some(identity(id, upstream, now)),
        };
        match self.users.create_user(new, now).await {
            Ok(user) => {
                let event = AuditEvent::new("user_registered", "ok")
                    .user(user.id)
                    .detail(json!({ "via": "upstream", "provider": upstream.provider }));
                self.audit.record(event).await;
                self.linked(user.id, upstream, "sign_up").await;
                Ok(user)
            }
            // the email was taken meanwhile (a parallel first sign-in): as it finds it now
            Err(CreateUserError::Duplicate) => Box::pin(self.account(upstream)).await,
            Err(CreateUserError::Store(e)) => Err(e.into()),
        }
    }

    /// Links `upstream` to `user` (who signed in and asked for it).
    pub async fn link(&self, user: UserId, upstream: &UpstreamUser) -> Result<(), AccountRefusal> {
        let found = self
            .identities
            .find_identity(&upstream.provider, &upstream.subject)
            .await?;
        match found {
            Some(linked) if linked.user_id == user => Ok(()),
            Some(_) => {
                self.refused(upstream, Some(user), "linked_elsewhere").await;
                Err(AccountRefusal::LinkedElsewhere)
            }
            None => {
                let link = identity(user, upstream, self.clock.now());
                if !self.identities.link_identity(&link).await? {
                    return Err(AccountRefusal::LinkedElsewhere);
                }
                self.linked(user, upstream, "account").await;
                Ok(())
            }
        }
    }

    /// The user's links.
    pub async fn identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        self.identities.user_identities(user).await
    }

    /// Removes the user's link `id`, unless it is their last way to sign in.
    pub async fn unlink(&self, user: UserId, id: &str) -> Result<Unlinked, StoreError> {
        let unlinked = self.identities.unlink_identity(user, id).await?;
        if unlinked == Unlinked::Done {
            let event = AuditEvent::new("identity_unlinked", "ok")
                .user(user)
                .detail(json!({ "identity": id }));
            self.audit.record(event).await;
        }
        Ok(unlinked)
    }

    async fn linked(&self, user: UserId, upstream: &UpstreamUser, how: &str) {
        let event = AuditEvent::new("identity_linked", "ok")
            .user(user)
            .detail(json!({ "provider": upstream.provider, "how": how }));
        self.audit.record(event).await;
    }

    async fn refused(&self, upstream: &UpstreamUser, user: Option<UserId>, reason: &str) {
        let mut event = AuditEvent::new("upstream_failed", "denied")
            .detail(json!({ "provider": upstream.provider, "reason": reason }));
        if let Some(user) = user {
            event = event.user(user);
        }
        self.audit.record(event).await;
    }
}

//! A user's sessions (book § Endpoints): listing them, ending one, and logging out of the cookie
//! session (the refresh family and the presented access token end at once). Every way a
//! session or an access token ends goes through here, so each end reaches the revocation
//! feed; `service::revocations` (RFC 7009) calls down into it, never the other way.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::FamilyId;
use crate::domain::User;
use crate::domain::UserId;
use crate::store::{Ended, SessionInfo, StoreError, Stores};
use crate::tokens::{refresh, AccessClaims};

/// Sessions and browser sign-ins: listing and ending them, and telling the revocation
/// feed of every end. It reads the session, sign-in, revocation and feed stores, the
/// feed's settings (audiences, clock leeway) and the clock.
#[derive(Clone)]
pub struct Sessions {
    stores: Stores,
    settings: Arc<Settings>,
    clock: Arc<dyn Clock>,
}

impl Sessions {
    pub fn new(stores: Stores, settings: Arc<Settings>, clock: Arc<dyn Clock>) -> Self {
        Sessions {
            stores,
            settings,
            clock,
        }
    }

    /// The user's live sessions, newest first.
    pub async fn list(&self, user: &User) -> Result<Vec<SessionInfo>, StoreError> {
        let now = self.clock.now();
        self.stores.families.list_sessions(user.id, now).await
    }

    /// The user's browser sign-ins on the hosted pages (SSO sessions), newest first.
    pub async fn list_sign_ins(
        &self,
        user: &User,
    ) -> Result<Vec<crate::store::SsoSession>, StoreError> {
        self.stores.sso.list_sso(user.id, self.clock.now()).await
    }

    /// Tells the revocation feed that the `ended` sessions ended now.
    pub async fn feed_ended(&self, ended: &[Ended]) -> Result<(), StoreError> {
        let now = self.clock.now();
        super::feed::sessions_ended(&self.stores, &self.settings, ended, None, now).await
    }

    /// Ends a session (refresh family), with `owner` only if that client owns it, and tells
    /// the revocation feed; whether it was alive.
    pub async fn end_family(&self, id: &FamilyId, owner: Option<&str>) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let ended = self.stores.families.revoke_family(id, owner, now).await?;
        let ended: Vec<Ended> = ended.into_iter().collect();
        self.feed_ended(&ended).await?;
        Ok(!ended.is_empty())
    }

    /// Ends every session started under a browser sign-in, and the sign-in; one feed write
    /// for all of them. How many sessions were alive.
    pub async fn end_sso(&self, sso_id: &str) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut ended = Vec::new();
        for family in self.stores.sso.end_sso(sso_id, now).await? {
            let family = self.stores.families.revoke_family(&family, None, now);
            ended.extend(family.await?);
        }
        self.feed_ended(&ended).await?;
        Ok(ended.len())
    }

    /// Ends one of the user's sessions, or one of their browser sign-ins with every session
    /// started under it; `Ok(false)` when the user has neither with that id (someone else's
    /// id is as unknown as a made-up one).
    pub async fn end(&self, user: &User, id: &str) -> Result<bool, StoreError> {
        if id.len() > 64 {
            return Ok(false);
        }
        let now = self.clock.now();
        if let Some(family) = self
            .stores
            .families
            .find_family(&id.to_owned().into(), now)
            .await?
        {
            if family.user_id != user.id {
                return Ok(false);
            }
            self.end_family(&family.id, None).await?;
            tracing::info!(sid = %id, user_id = %user.id, "session ended by its user");
            return Ok(true);
        }
        match self.stores.sso.find_sso(id, now).await? {
            Some(sso) if sso.user_id == user.id => {
                self.end_sso(id).await?;
                tracing::info!(user_id = %user.id, "browser sign-in ended by its user");
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Logs out: the presented access token stops working now (not at its expiry) and the
    /// refresh token's family ends. Either may be absent; logging out twice is fine.
    pub async fn logout(
        &self,
        access: Option<&AccessClaims>,
        refresh_token: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(claims) = access {
            self.blocklist(claims).await?;
        }
        if let Some(presented) = refresh_token.and_then(refresh::parse) {
            if self.end_family(&presented.sid, None).await? {
                tracing::info!(sid = %presented.sid, "session ended");
            }
        }
        Ok(())
    }

    /// Ends every session of `user` except `keep` and every browser sign-in, and cuts off
    /// the user's access tokens issued before `now` (see `end_user_sessions`).
    pub async fn end_user(
        &self,
        user: UserId,
        keep: Option<&FamilyId>,
        now: time::OffsetDateTime,
    ) -> Result<usize, StoreError> {
        end_user_sessions(&self.stores, &self.settings, user, keep, now).await
    }

    /// Blocklists an access token for the rest of its lifetime.
    pub async fn blocklist(&self, claims: &AccessClaims) -> Result<(), StoreError> {
        let now = self.clock.now();
        let remaining =
            claims.exp + self.settings.clock_leeway.as_secs() as i64 - now.unix_timestamp();
        if let Ok(remaining @ 1..) = u64::try_from(remaining) {
            let ttl = std::time::Duration::from_secs(remaining);
            self.stores
                .revocations
                .blocklist(&claims.jti, ttl, now)
                .await?;
            super::feed::token_revoked(&self.stores, &self.settings, claims, now).await?;
        }
        Ok(())
    }
}

/// How long a per-user cutoff must live: past every access token issued before it (the
/// longest configurable TTL is 1 h) plus clock leeway.
fn cutoff_ttl(settings: &crate::config::Settings) -> std::time::Duration {
    std::time::Duration::from_secs(3600) + settings.clock_leeway
}

/// Ends every session of `user` except `keep`, every browser sign-in (SSO) session, and
/// invalidates every access token issued before `now` (the per-user cutoff): password
/// change and reset, admin revocation and deletion. Returns how many sessions ended.
pub async fn end_user_sessions(
    stores: &crate::store::Stores,
    settings: &crate::config::Settings,
    user: UserId,
    keep: Option<&FamilyId>,
    now: time::OffsetDateTime,
) -> Result<usize, StoreError> {
    let ended = stores
        .families
        .revoke_user_sessions(user, keep, now)
        .await?;
    stores.sso.end_user_sso(user, now).await?;
    stores
        .revocations
        .set_cutoff(user, now, cutoff_ttl(settings))
        .await?;
    // the cut-off voids the tokens issued before this second; the sessions' own events
    // also void those issued within it, as the ended families do here
    super::feed::sessions_ended(stores, settings, &ended, None, now).await?;
    super::feed::user_cut_off(stores, settings, user, now).await?;
    Ok(ended.len())
}

//! The outbox's rows (book § Email): each message sealed under the KEK (its own subkey,
//! bound to the row's id), with a dedupe key that names it without its secret. The stores
//! write these rows in the transaction of the change that causes them.

use serde::{Deserialize, Serialize};
use sha2::Digest;
use time::OffsetDateTime;

use super::Outbox;
use crate::crypto::{Kek, Purpose, SigningAlg};
use crate::domain::{Client, FamilyId, User, UserId};
use crate::notify::{LinkKind, LinkMessage, NoticeKind, ResetMessage};
use crate::store::{Ended, OutboxMessage, StoreError};

/// A message as sealed in the outbox.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Sealed {
    PasswordReset {
        user_id: UserId,
        email: String,
        token: String,
        expires_at: i64,
    },
    Notice {
        user_id: UserId,
        email: String,
        notice: NoticeKind,
        at: i64,
    },
    EmailLink {
        user_id: UserId,
        email: String,
        link_kind: LinkKind,
        link: String,
        expires_at: i64,
    },
    /// A session of `client_id`'s ended: a logout token goes to `uri`, signed when it is
    /// delivered (so a late delivery is not stale).
    BackchannelLogout {
        client_id: String,
        uri: String,
        alg: SigningAlg,
        user_id: UserId,
        sid: FamilyId,
    },
}

/// The outbox row that tells `client` that session `ended` ended (OpenID Connect
/// Back-Channel Logout 1.0), or `None` when the client has no back-channel endpoint. The
/// dedupe key is the session's: one session ends once.
pub fn backchannel_logout(
    kek: &Kek,
    client: &Client,
    ended: &Ended,
    now: OffsetDateTime,
) -> Result<Option<OutboxMessage>, StoreError> {
    let Some(uri) = &client.backchannel_logout_uri else {
        return Ok(None);
    };
    let sealed = Sealed::BackchannelLogout {
        client_id: client.id.to_string(),
        uri: uri.clone(),
        alg: client.id_token_alg,
        user_id: ended.user_id,
        sid: ended.id.clone(),
    };
    let key = format!("{BACKCHANNEL_LOGOUT}:{}", ended.id);
    seal_row(kek, BACKCHANNEL_LOGOUT, key, &sealed, now).map(Some)
}

/// The outbox kind of back-channel logout messages (and their metrics label).
const BACKCHANNEL_LOGOUT: &str = "backchannel_logout";

impl Outbox {
    /// The outbox row of a reset link's message, for the store to write with the link.
    pub fn reset_message(
        &self,
        message: &ResetMessage,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage, StoreError> {
        use secrecy::ExposeSecret;
        let sealed = Sealed::PasswordReset {
            user_id: message.user_id,
            email: message.email.clone(),
            token: message.token.expose_secret().to_owned(),
            expires_at: message.expires_at.unix_timestamp(),
        };
        // the dedupe key names the message without its secret: one reset link, one message
        let digest = sha2::Sha256::digest(message.token.expose_secret().as_bytes());
        let key = format!("password_reset:{}", hex::encode(&digest[..16]));
        self.row("password_reset", key, &sealed, now)
    }

    /// The outbox row of a security notice to `user` (book § Email), for the store to write
    /// with the change it announces.
    pub fn notice(
        &self,
        user: &User,
        kind: NoticeKind,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage, StoreError> {
        let sealed = Sealed::Notice {
            user_id: user.id,
            email: user.email.as_str().to_owned(),
            notice: kind,
            at: now.unix_timestamp(),
        };
        let key = format!(
            "notice:{}:{}:{}",
            kind.as_str(),
            user.id,
            now.unix_timestamp_nanos()
        );
        self.row("security_notice", key, &sealed, now)
    }

    /// The outbox row of an email verification or change link's message (book § Email), for
    /// the store to write with the link.
    pub fn email_link(
        &self,
        message: &LinkMessage,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage, StoreError> {
        use secrecy::ExposeSecret;
        let link = message.link.expose_secret();
        let sealed = Sealed::EmailLink {
            user_id: message.user_id,
            email: message.email.clone(),
            link_kind: message.kind,
            link: link.to_owned(),
            expires_at: message.expires_at.unix_timestamp(),
        };
        let digest = sha2::Sha256::digest(link.as_bytes());
        let key = format!("{}:{}", message.kind.event(), hex::encode(&digest[..16]));
        self.row(message.kind.event(), key, &sealed, now)
    }

    fn row(
        &self,
        kind: &str,
        dedupe_key: String,
        message: &Sealed,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage, StoreError> {
        seal_row(&self.kek, kind, dedupe_key, message, now)
    }
}

/// A new row of `kind` due at `now`: `message` sealed under the KEK, bound to the row's id.
fn seal_row(
    kek: &Kek,
    kind: &str,
    dedupe_key: String,
    message: &Sealed,
    now: OffsetDateTime,
) -> Result<OutboxMessage, StoreError> {
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(message).map_err(|e| StoreError::Other(e.into()))?,
    );
    let mut row = OutboxMessage::new(kind, dedupe_key, Vec::new(), now);
    row.sealed = kek.seal(Purpose::OutboxMessage, &json, row.id.as_bytes());
    Ok(row)
}

//! The outbox's rows (book § Email): each message sealed under the KEK (its own subkey,
//! bound to the row's id), with a dedupe key that names it without its secret. The stores
//! write these rows in the transaction of the change that causes them.

use serde::{Deserialize, Serialize};
use sha2::Digest;
use time::OffsetDateTime;

use super::Outbox;
use crate::crypto::Purpose;
use crate::domain::{User, UserId};
use crate::notify::{LinkKind, LinkMessage, NoticeKind, ResetMessage};
use crate::store::{OutboxMessage, StoreError};

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
}

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

    /// A new row of `kind` due at `now`: `message` sealed under the KEK, bound to the
    /// row's id.
    fn row(
        &self,
        kind: &str,
        dedupe_key: String,
        message: &Sealed,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage, StoreError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec(message).map_err(|e| StoreError::Other(e.into()))?,
        );
        let mut row = OutboxMessage::new(kind, dedupe_key, Vec::new(), now);
        row.sealed = self
            .kek
            .seal(Purpose::OutboxMessage, &json, row.id.as_bytes());
        Ok(row)
    }
}

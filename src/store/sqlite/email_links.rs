//! Email links in SQLite (book § Email): only digests are stored, and a link is spent in the transaction
//! that makes its change.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Transaction};
use time::OffsetDateTime;

use super::{micros, user_id_of, SqliteStore};
use crate::domain::{Email, UserId};
use crate::store::{
    EmailLink, EmailLinkStore, LinkPurpose, LinkUse, NewEmailLink, OutboxMessage, StoreError,
};

/// Writes `link` in `tx` (with a new user, or on its own).
pub(super) fn insert(
    tx: &Transaction,
    link: &NewEmailLink,
    now: OffsetDateTime,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO email_links (token_sha256, user_id, purpose, email, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            link.token_sha256.to_vec(),
            link.user.to_string(),
            link.purpose.as_str(),
            link.email.as_str(),
            micros(now),
            micros(link.expires_at)
        ],
    )?;
    Ok(())
}

const FIND: &str = "SELECT user_id, purpose, email FROM email_links \
                    WHERE token_sha256 = ?1 AND used_at IS NULL AND expires_at > ?2";

type LinkRow = (String, String, String);

fn to_link((user, purpose, email): LinkRow) -> Result<EmailLink, StoreError> {
    Ok(EmailLink {
        user: user_id_of(&user)?,
        purpose: LinkPurpose::parse(&purpose)?,
        email: Email::from_stored(email),
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Spends every unused link of `user` and their password reset links (a change of address
/// leaves nothing sent to the old one usable).
fn end_links(tx: &Transaction, user: &str, at: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE email_links SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
        params![user, at],
    )?;
    tx.execute(
        "UPDATE password_resets SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
        params![user, at],
    )?;
    Ok(())
}

#[async_trait]
impl EmailLinkStore for SqliteStore {
    async fn create_email_link(
        &self,
        link: &NewEmailLink,
        message: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (link, message) = (link.clone(), message.clone());
        self.write(move |tx| {
            insert(tx, &link, now)?;
            super::outbox::enqueue(tx, &message)
        })
        .await
    }

    async fn find_email_link(
        &self,
        token_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<EmailLink>, StoreError> {
        let row: Option<LinkRow> = self
            .read_only(move |c| {
                c.query_row(FIND, params![token_sha256.to_vec(), micros(now)], |r| {
                    LinkRow::try_from(r)
                })
                .optional()
            })
            .await?;
        row.map(to_link).transpose()
    }

    async fn use_email_link(
        &self,
        token_sha256: [u8; 32],
        current: &Email,
        notice: Option<&OutboxMessage>,
        now: OffsetDateTime,
    ) -> Result<LinkUse, StoreError> {
        let (current, notice) = (current.as_str().to_owned(), notice.cloned());
        self.write(move |tx| {
            let at = micros(now);
            let Some((user, purpose, email)) = tx
                .query_row(FIND, params![token_sha256.to_vec(), at], |r| {
                    LinkRow::try_from(r)
                })
                .optional()?
            else {
                return Ok(LinkUse::Invalid);
            };
            let verify = purpose == LinkPurpose::Verify.as_str();
            if verify && email != current {
                // sent to an address the account no longer has
                return Ok(LinkUse::Invalid);
            }
            let changed = if verify {
                tx.execute(
                    "UPDATE users SET email_verified = 1, updated_at = ?3 WHERE id = ?1 AND email = ?2",
                    params![user, current, at],
                )
                .map(|n| n > 0)
            } else {
                tx.execute(
                    "UPDATE users SET email = ?3, email_verified = 1, updated_at = ?4 WHERE id = ?1 AND email = ?2",
                    params![user, current, email, at],
                )
                .map(|n| n > 0)
            };
            let outcome = match changed {
                Ok(true) => LinkUse::Applied,
                Ok(false) => return Ok(LinkUse::Invalid),
                // SQLite undoes the statement alone: the link is still spent below
                Err(e) if !verify && is_unique_violation(&e) => LinkUse::Taken,
                Err(e) => return Err(e),
            };
            tx.execute(
                "UPDATE email_links SET used_at = ?2 WHERE token_sha256 = ?1",
                params![token_sha256.to_vec(), at],
            )?;
            if outcome == LinkUse::Applied && !verify {
                end_links(tx, &user, at)?;
                if let Some(notice) = &notice {
                    super::outbox::enqueue(tx, notice)?;
                }
            }
            Ok(outcome)
        })
        .await
    }

    async fn set_email_verified(
        &self,
        user: UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE users SET email_verified = ?2, updated_at = ?3 WHERE id = ?1",
                    params![user.to_string(), verified, micros(now)],
                )
            })
            .await?;
        Ok(n > 0)
    }
}

//! Email links in Postgres (book § Email): only digests are stored, and a link is spent in
//! the transaction that makes its change. Expired links are swept with reset links.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;

use super::{unavailable, PgStore};
use crate::domain::{Email, UserId};
use crate::store::{
    EmailLink, EmailLinkStore, LinkPurpose, LinkUse, NewEmailLink, OutboxMessage, StoreError,
};

/// Writes `link` in `tx` (with a new user, or on its own).
pub(super) async fn insert(
    tx: &Transaction<'_>,
    link: &NewEmailLink,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO email_links (token_sha256, user_id, purpose, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &link.token_sha256.to_vec(),
            &link.user,
            &link.purpose.as_str(),
            &link.email.as_str(),
            &now,
            &link.expires_at,
        ],
    )
    .await
    .map_err(unavailable)?;
    Ok(())
}

const FIND: &str = "SELECT user_id, purpose, email FROM email_links \
                    WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2";

fn to_link(row: &tokio_postgres::Row) -> Result<EmailLink, StoreError> {
    Ok(EmailLink {
        user: row.get(0),
        purpose: LinkPurpose::parse(row.get(1))?,
        email: Email::from_stored(row.get(2)),
    })
}

/// A change that touched a row applied; one that touched none finds the account moved on.
fn applied(rows: u64) -> LinkUse {
    if rows > 0 {
        LinkUse::Applied
    } else {
        LinkUse::Invalid
    }
}

#[async_trait]
impl EmailLinkStore for PgStore {
    async fn create_email_link(
        &self,
        link: &NewEmailLink,
        message: &OutboxMessage,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        insert(&tx, link, now).await?;
        super::outbox::enqueue(&tx, message).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn find_email_link(
        &self,
        token_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<EmailLink>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(FIND, &[&token_sha256.to_vec(), &now])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(to_link).transpose()
    }

    async fn use_email_link(
        &self,
        token_sha256: [u8; 32],
        current: &Email,
        notice: Option<&OutboxMessage>,
        now: OffsetDateTime,
    ) -> Result<LinkUse, StoreError> {
        let digest = token_sha256.to_vec();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        // FOR UPDATE: of two concurrent uses of one link, the second waits and finds it spent
        let row = tx
            .query_opt(&format!("{FIND} FOR UPDATE"), &[&digest, &now])
            .await
            .map_err(unavailable)?;
        let Some(link) = row.as_ref().map(to_link).transpose()? else {
            return Ok(LinkUse::Invalid);
        };
        let outcome = match link.purpose {
            LinkPurpose::Verify if link.email != *current => LinkUse::Invalid,
            LinkPurpose::Verify => applied(
                tx.execute(
                    "UPDATE users SET email_verified = true, updated_at = $3 WHERE id = $1 AND email = $2",
                    &[&link.user, &current.as_str(), &now],
                )
                .await
                .map_err(unavailable)?,
            ),
            LinkPurpose::Change => {
                let taken = tx
                    .query_opt("SELECT 1 FROM users WHERE email = $1", &[&link.email.as_str()])
                    .await
                    .map_err(unavailable)?
                    .is_some();
                if taken {
                    LinkUse::Taken
                } else {
                    let moved = tx
                        .execute(
                            "UPDATE users SET email = $3, email_verified = true, updated_at = $4 WHERE id = $1 AND email = $2",
                            &[&link.user, &current.as_str(), &link.email.as_str(), &now],
                        )
                        .await;
                    match moved {
                        Ok(n) => applied(n),
                        // taken by a registration that committed in between: the link stays
                        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => LinkUse::Invalid,
                        Err(e) => return Err(unavailable(e)),
                    }
                }
            }
        };
        if outcome == LinkUse::Invalid {
            return Ok(outcome);
        }
        tx.execute(
            "UPDATE email_links SET used_at = $2 WHERE token_sha256 = $1",
            &[&digest, &now],
        )
        .await
        .map_err(unavailable)?;
        if outcome == LinkUse::Applied && link.purpose == LinkPurpose::Change {
            // nothing sent to the old address stays usable
            for table in ["email_links", "password_resets"] {
                tx.execute(
                    &format!(
                        "UPDATE {table} SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"
                    ),
                    &[&link.user, &now],
                )
                .await
                .map_err(unavailable)?;
            }
            if let Some(notice) = notice {
                super::outbox::enqueue(&tx, notice).await?;
            }
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(outcome)
    }

    async fn set_email_verified(
        &self,
        user: UserId,
        verified: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE users SET email_verified = $2, updated_at = $3 WHERE id = $1",
                &[&user, &verified, &now],
            )
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }
}

//! Upstream identities in SQLite (book § Upstream providers).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Transaction};

use super::{from_micros, micros, user_id_of, SqliteStore};
use crate::domain::{ProviderId, UserId};
use crate::store::{another_way, Identity, IdentityStore, StoreError, Unlinked};

const SELECT: &str =
    "SELECT id, user_id, provider, subject, email, linked_at FROM upstream_identities";

type Raw = (String, String, String, String, Option<String>, i64);

fn read(r: &rusqlite::Row) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn to_identity(
    (id, user, provider, subject, email, linked_at): Raw,
) -> Result<Identity, StoreError> {
    Ok(Identity {
        user_id: user_id_of(&user)?,
        provider: ProviderId::parse(&provider)
            .map_err(|_| StoreError::Corrupt(format!("identity {id}: provider")))?,
        subject,
        email,
        linked_at: from_micros(linked_at),
        id,
    })
}

/// Writes a link inside the caller's transaction (a new user's, or its own); the number
/// of rows written (0: the identity is linked already).
pub(super) fn insert(tx: &Transaction, identity: &Identity) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO upstream_identities (id, user_id, provider, subject, email, linked_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (provider, subject) DO NOTHING",
        params![
            identity.id,
            identity.user_id.to_string(),
            identity.provider.as_str(),
            identity.subject,
            identity.email,
            micros(identity.linked_at)
        ],
    )
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn find_identity(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Option<Identity>, StoreError> {
        let (provider, subject) = (provider.to_string(), subject.to_owned());
        let raw = self
            .run(move |c| {
                c.query_row(
                    &format!("{SELECT} WHERE provider = ?1 AND subject = ?2"),
                    params![provider, subject],
                    read,
                )
                .optional()
            })
            .await?;
        raw.map(to_identity).transpose()
    }

    async fn link_identity(&self, identity: &Identity) -> Result<bool, StoreError> {
        let identity = identity.clone();
        let n = self.write(move |tx| insert(tx, &identity)).await?;
        Ok(n == 1)
    }

    async fn user_identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        let user = user.to_string();
        let rows = self
            .run(move |c| {
                let mut stmt = c.prepare(&format!(
                    "{SELECT} WHERE user_id = ?1 ORDER BY linked_at, id"
                ))?;
                let rows = stmt.query_map([user], read)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(to_identity).collect()
    }

    async fn unlink_identity(&self, user: UserId, id: &str) -> Result<Unlinked, StoreError> {
        let (user, id) = (user.to_string(), id.to_owned());
        self.write(move |tx| {
            let deleted = tx.execute(
                &format!(
                    "DELETE FROM upstream_identities WHERE id = ?2 AND user_id = ?1 AND {}",
                    another_way("?1", "?2")
                ),
                params![user, id],
            )?;
            if deleted == 1 {
                return Ok(Unlinked::Done);
            }
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM upstream_identities WHERE id = ?2 AND user_id = ?1",
                    params![user, id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match exists {
                Some(_) => Unlinked::LastWay,
                None => Unlinked::NotFound,
            })
        })
        .await
    }
}

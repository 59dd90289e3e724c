//! Upstream identities in PostgreSQL (book § Upstream providers).

use async_trait::async_trait;

use super::{unavailable, PgStore};
use crate::domain::{ProviderId, UserId};
use crate::store::{another_way, Identity, IdentityStore, StoreError, Unlinked};

const SELECT: &str =
    "SELECT id, user_id, provider, subject, email, linked_at FROM upstream_identities";

const INSERT: &str =
    "INSERT INTO upstream_identities (id, user_id, provider, subject, email, linked_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider, subject) DO NOTHING";

fn to_identity(row: &tokio_postgres::Row) -> Result<Identity, StoreError> {
    let id: String = row.get(0);
    let provider: String = row.get(2);
    Ok(Identity {
        user_id: row.get(1),
        provider: ProviderId::parse(&provider)
            .map_err(|_| StoreError::Corrupt(format!("identity {id}: provider")))?,
        subject: row.get(3),
        email: row.get(4),
        linked_at: row.get(5),
        id,
    })
}

/// Writes a link with `client` (a new user's transaction, or a plain connection); the
/// number of rows written (0: the identity is linked already).
pub(super) async fn insert(
    client: &impl deadpool_postgres::GenericClient,
    identity: &Identity,
) -> Result<u64, StoreError> {
    client
        .execute(
            INSERT,
            &[
                &identity.id,
                &identity.user_id,
                &identity.provider.as_str(),
                &identity.subject,
                &identity.email,
                &identity.linked_at,
            ],
        )
        .await
        .map_err(unavailable)
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn find_identity(
        &self,
        provider: &ProviderId,
        subject: &str,
    ) -> Result<Option<Identity>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("{SELECT} WHERE provider = $1 AND subject = $2"),
                &[&provider.as_str(), &subject],
            )
            .await
            .map_err(unavailable)?;
        row.as_ref().map(to_identity).transpose()
    }

    async fn link_identity(&self, identity: &Identity) -> Result<bool, StoreError> {
        let client = self.client().await?;
        Ok(insert(&client, identity).await? == 1)
    }

    async fn user_identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("{SELECT} WHERE user_id = $1 ORDER BY linked_at, id"),
                &[&user],
            )
            .await
            .map_err(unavailable)?;
        rows.iter().map(to_identity).collect()
    }

    async fn unlink_identity(&self, user: UserId, id: &str) -> Result<Unlinked, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                &format!(
                    "DELETE FROM upstream_identities WHERE id = $2 AND user_id = $1 AND {}",
                    another_way("$1", "$2")
                ),
                &[&user, &id],
            )
            .await
            .map_err(unavailable)?;
        if deleted == 1 {
            return Ok(Unlinked::Done);
        }
        let exists = client
            .query_opt(
                "SELECT 1 FROM upstream_identities WHERE id = $2 AND user_id = $1",
                &[&user, &id],
            )
            .await
            .map_err(unavailable)?;
        Ok(match exists {
            Some(_) => Unlinked::LastWay,
            None => Unlinked::NotFound,
        })
    }
}

//! Remembered consents in Postgres (book § Sign-in with the authorization-code flow).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, PgStore};
use crate::domain::UserId;
use crate::store::{Consent, ConsentStore, StoreError};

fn consent(row: &tokio_postgres::Row) -> Consent {
    Consent {
        client_id: row.get(0),
        scopes: row.get(1),
        granted_at: row.get(2),
    }
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO consents (user_id, client_id, scopes, granted_at) \
                 VALUES ($1, $2, (SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest($3::text[]) s), $4) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET granted_at = EXCLUDED.granted_at, \
                 scopes = (SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest(consents.scopes || EXCLUDED.scopes) s)",
                &[&user, &client_id, &scopes, &now],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn find_consent(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<Consent>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT client_id, scopes, granted_at FROM consents WHERE user_id = $1 AND client_id = $2",
                &[&user, &client_id],
            )
            .await
            .map_err(unavailable)?;
        Ok(row.as_ref().map(consent))
    }

    async fn list_consents(&self, user: UserId) -> Result<Vec<Consent>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT client_id, scopes, granted_at FROM consents WHERE user_id = $1 ORDER BY client_id",
                &[&user],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(consent).collect())
    }

    async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM consents WHERE user_id = $1 AND client_id = $2",
                &[&user, &client_id],
            )
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }
}

//! Upstream identity providers in PostgreSQL (book § Upstream providers).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{unavailable, PgStore};
use crate::domain::{Provider, ProviderId};
use crate::store::{
    provider_from_row, settings_document, ProviderStore, ProviderWrite, StoreError,
};

const SELECT: &str = "SELECT id, settings, client_secret_sealed FROM upstream_providers";

fn to_provider(row: &tokio_postgres::Row) -> Result<Provider, StoreError> {
    provider_from_row(row.get(0), row.get(1), row.get(2))
}

#[async_trait]
impl ProviderStore for PgStore {
    async fn write_provider(
        &self,
        provider: &Provider,
        how: ProviderWrite,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let settings = settings_document(provider)?;
        let statement = match how {
            ProviderWrite::Create => "INSERT INTO upstream_providers (id, settings, client_secret_sealed, created_at, updated_at) \
                                      VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING",
            ProviderWrite::Replace => "UPDATE upstream_providers SET settings = $2, client_secret_sealed = $3, updated_at = $4 WHERE id = $1",
        };
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &provider.id.as_str(),
            &settings,
            &provider.client_secret_sealed,
            &now,
        ];
        let n = self
            .client()
            .await?
            .execute(statement, &params)
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn find_provider(&self, id: &ProviderId) -> Result<Option<Provider>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("{SELECT} WHERE id = $1"), &[&id.as_str()])
            .await
            .map_err(unavailable)?;
        row.as_ref().map(to_provider).transpose()
    }

    async fn list_providers(&self) -> Result<Vec<Provider>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(&format!("{SELECT} ORDER BY id"), &[])
            .await
            .map_err(unavailable)?;
        rows.iter().map(to_provider).collect()
    }

    async fn delete_provider(&self, id: &ProviderId) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "DELETE FROM upstream_providers WHERE id = $1",
                &[&id.as_str()],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }
}

//! Upstream identity providers in SQLite (book § Upstream providers).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use time::OffsetDateTime;

use super::{micros, SqliteStore};
use crate::domain::{Provider, ProviderId};
use crate::store::{
    provider_from_row, settings_document, ProviderStore, ProviderWrite, StoreError,
};

type Row = (String, String, Option<Vec<u8>>);

fn read(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

const SELECT: &str = "SELECT id, settings, client_secret_sealed FROM upstream_providers";

#[async_trait]
impl ProviderStore for SqliteStore {
    async fn write_provider(
        &self,
        provider: &Provider,
        how: ProviderWrite,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (id, settings) = (provider.id.to_string(), settings_document(provider)?);
        let secret = provider.client_secret_sealed.clone();
        let statement = match how {
            ProviderWrite::Create => "INSERT INTO upstream_providers (id, settings, client_secret_sealed, created_at, updated_at) \
                                      VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (id) DO NOTHING",
            ProviderWrite::Replace => "UPDATE upstream_providers SET settings = ?2, client_secret_sealed = ?3, updated_at = ?4 WHERE id = ?1",
        };
        let n = self
            .write(move |tx| tx.execute(statement, params![id, settings, secret, micros(now)]))
            .await?;
        Ok(n == 1)
    }

    async fn find_provider(&self, id: &ProviderId) -> Result<Option<Provider>, StoreError> {
        let id = id.to_string();
        let row = self
            .run(move |c| {
                c.query_row(&format!("{SELECT} WHERE id = ?1"), [id], read)
                    .optional()
            })
            .await?;
        row.map(|(id, settings, secret)| provider_from_row(&id, &settings, secret))
            .transpose()
    }

    async fn list_providers(&self) -> Result<Vec<Provider>, StoreError> {
        let rows = self
            .run(|c| {
                let mut stmt = c.prepare(&format!("{SELECT} ORDER BY id"))?;
                let rows = stmt.query_map([], read)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter()
            .map(|(id, settings, secret)| provider_from_row(&id, &settings, secret))
            .collect()
    }

    async fn delete_provider(&self, id: &ProviderId) -> Result<bool, StoreError> {
        let id = id.to_string();
        let n = self
            .write(move |tx| tx.execute("DELETE FROM upstream_providers WHERE id = ?1", [id]))
            .await?;
        Ok(n == 1)
    }
}

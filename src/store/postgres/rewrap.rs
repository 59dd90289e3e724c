//! `tessera keys rewrap` in Postgres (book § Signing keys): every sealed item re-sealed in one
//! transaction under the key-ring lock, or nothing changed.

use super::{unavailable, PgStore, KEYRING_LOCK};
use async_trait::async_trait;

use crate::domain::UserId;
use crate::store::{Resealer, RewrapError, RewrapReport, SealedItem, SealedStore, StoreError};

#[async_trait]
impl SealedStore for PgStore {
    /// Re-seals every private signing key and TOTP secret with `reseal`. If any item fails
    /// to re-seal, the transaction is rolled back and the error names the item.
    async fn rewrap(&self, reseal: &Resealer<'_>) -> Result<RewrapReport, RewrapError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&KEYRING_LOCK])
            .await
            .map_err(unavailable)?;
        let mut report = RewrapReport::default();
        let keys = tx
            .query(
                "SELECT kid, private_sealed FROM signing_keys ORDER BY kid FOR UPDATE",
                &[],
            )
            .await
            .map_err(unavailable)?;
        for row in keys {
            let kid: String = row.get(0);
            let sealed: Vec<u8> = row.get(1);
            let resealed = reseal(SealedItem::SigningKey(&kid), &sealed)?;
            tx.execute(
                "UPDATE signing_keys SET private_sealed = $2 WHERE kid = $1",
                &[&kid, &resealed],
            )
            .await
            .map_err(unavailable)?;
            report.signing_keys += 1;
        }
        let secrets = tx
            .query(
                "SELECT user_id, secret_sealed FROM user_totp ORDER BY user_id FOR UPDATE",
                &[],
            )
            .await
            .map_err(unavailable)?;
        for row in secrets {
            let user: UserId = row.get(0);
            let sealed: Vec<u8> = row.get(1);
            let resealed = reseal(SealedItem::TotpSecret(user), &sealed)?;
            tx.execute(
                "UPDATE user_totp SET secret_sealed = $2 WHERE user_id = $1",
                &[&user, &resealed],
            )
            .await
            .map_err(unavailable)?;
            report.totp_secrets += 1;
        }
        let messages = tx
            .query("SELECT id, sealed FROM outbox ORDER BY id FOR UPDATE", &[])
            .await
            .map_err(unavailable)?;
        for row in messages {
            let id: crate::domain::MessageId = row.get(0);
            let sealed: Vec<u8> = row.get(1);
            let resealed = reseal(SealedItem::OutboxMessage(id), &sealed)?;
            tx.execute(
                "UPDATE outbox SET sealed = $2 WHERE id = $1",
                &[&id, &resealed],
            )
            .await
            .map_err(unavailable)?;
            report.outbox_messages += 1;
        }
        let providers = tx
            .query(
                "SELECT id, client_secret_sealed FROM upstream_providers \
                 WHERE client_secret_sealed IS NOT NULL ORDER BY id FOR UPDATE",
                &[],
            )
            .await
            .map_err(unavailable)?;
        for row in providers {
            let id: String = row.get(0);
            let sealed: Vec<u8> = row.get(1);
            let resealed = reseal(SealedItem::ProviderSecret(&id), &sealed)?;
            tx.execute(
                "UPDATE upstream_providers SET client_secret_sealed = $2 WHERE id = $1",
                &[&id, &resealed],
            )
            .await
            .map_err(unavailable)?;
            report.provider_secrets += 1;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(report)
    }
}

impl From<StoreError> for RewrapError {
    fn from(e: StoreError) -> Self {
        RewrapError::Store(e)
    }
}

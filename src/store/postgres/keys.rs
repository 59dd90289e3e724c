//! Signing keys in Postgres (book § Signing keys). Changes run in one transaction holding a
//! transaction-scoped advisory lock, so concurrent instances never race.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{unavailable, PgStore, KEYRING_LOCK};
use crate::crypto::{KeyState, SigningAlg};
use crate::store::{KeyImport, KeyRevocation, KeyStore, NewSigningKey, SigningKeyRow, StoreError};

const SELECT: &str = "SELECT kid, alg, state, private_sealed, public_jwk, created_at, activated_at, retiring_at, revoked_at FROM signing_keys";

fn row_to_key(row: &Row) -> Result<SigningKeyRow, StoreError> {
    let alg: String = row.get("alg");
    let state: String = row.get("state");
    let jwk: Value = row.get("public_jwk");
    Ok(SigningKeyRow {
        kid: row.get("kid"),
        alg: alg
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("unknown alg {alg}")))?,
        state: state
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("unknown key state {state}")))?,
        private_sealed: row.get("private_sealed"),
        public_jwk: match jwk {
            Value::Object(map) => map,
            _ => return Err(StoreError::Corrupt("public_jwk is not an object".into())),
        },
        created_at: row.get("created_at"),
        activated_at: row.get("activated_at"),
        retiring_at: row.get("retiring_at"),
        revoked_at: row.get("revoked_at"),
    })
}

async fn insert(
    client: &impl GenericClient,
    key: &NewSigningKey,
    state: KeyState,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let activated = (state == KeyState::Active).then_some(now);
    client
        .execute(
            "INSERT INTO signing_keys (kid, alg, state, private_sealed, public_jwk, created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&key.kid, &key.alg.as_str(), &state.as_str(), &key.private_sealed, &Value::Object(key.public_jwk.clone()), &now, &activated],
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}

async fn kid_in_state(
    client: &impl GenericClient,
    alg: SigningAlg,
    state: KeyState,
) -> Result<Option<String>, StoreError> {
    let row = client
        .query_opt(
            "SELECT kid FROM signing_keys WHERE alg = $1 AND state = $2",
            &[&alg.as_str(), &state.as_str()],
        )
        .await
        .map_err(unavailable)?;
    Ok(row.map(|r| r.get(0)))
}

#[async_trait]
impl KeyStore for PgStore {
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("{SELECT} WHERE state <> 'retired' ORDER BY created_at, kid"),
                &[],
            )
            .await
            .map_err(unavailable)?;
        rows.iter().map(row_to_key).collect()
    }

    async fn fill_missing_keys(
        &self,
        alg: SigningAlg,
        active: NewSigningKey,
        next: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        lock(&tx).await?;
        let mut inserted = false;
        if kid_in_state(&tx, alg, KeyState::Active).await?.is_none() {
            insert(&tx, &active, KeyState::Active, now).await?;
            inserted = true;
        }
        if kid_in_state(&tx, alg, KeyState::Next).await?.is_none() {
            insert(&tx, &next, KeyState::Next, now).await?;
            inserted = true;
        }
        if inserted {
            bump_version(&tx).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(inserted)
    }

    async fn rotate(
        &self,
        alg: SigningAlg,
        new_next: NewSigningKey,
        due_before: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        lock(&tx).await?;
        if let Some(due) = due_before {
            let activated: Option<Option<OffsetDateTime>> = tx
                .query_opt(
                    "SELECT activated_at FROM signing_keys WHERE alg = $1 AND state = 'active'",
                    &[&alg.as_str()],
                )
                .await
                .map_err(unavailable)?
                .map(|r| r.get(0));
            if activated.flatten().is_some_and(|at| at > due) {
                return Ok(None);
            }
        }
        let next = kid_in_state(&tx, alg, KeyState::Next)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("no next key for {alg}")))?;
        tx.execute(
            "UPDATE signing_keys SET state = 'retiring', retiring_at = $2 WHERE alg = $1 AND state = 'active'",
            &[&alg.as_str(), &now],
        )
        .await
        .map_err(unavailable)?;
        promote(&tx, &next, now).await?;
        insert(&tx, &new_next, KeyState::Next, now).await?;
        bump_version(&tx).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Some(next))
    }

    async fn revoke(
        &self,
        kid: &crate::domain::Kid,
        replacement: Option<NewSigningKey>,
        now: OffsetDateTime,
    ) -> Result<KeyRevocation, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        lock(&tx).await?;
        let Some(row) = tx
            .query_opt(&format!("{SELECT} WHERE kid = $1"), &[&kid])
            .await
            .map_err(unavailable)?
        else {
            return Ok(KeyRevocation::NotFound);
        };
        let key = row_to_key(&row)?;
        if key.revoked_at.is_some() {
            return Ok(KeyRevocation::AlreadyRevoked);
        }
        tx.execute(
            "UPDATE signing_keys SET state = 'retired', retired_at = $2, revoked_at = $2 WHERE kid = $1",
            &[&kid, &now],
        )
        .await
        .map_err(unavailable)?;
        let mut promoted = None;
        if key.state == KeyState::Active {
            if let Some(next) = kid_in_state(&tx, key.alg, KeyState::Next).await? {
                promote(&tx, &next, now).await?;
                promoted = Some(next);
            }
        }
        let needs_next = matches!(key.state, KeyState::Active | KeyState::Next);
        if let Some(replacement) = replacement.filter(|r| needs_next && r.alg == key.alg) {
            insert(&tx, &replacement, KeyState::Next, now).await?;
        }
        bump_version(&tx).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(KeyRevocation::Revoked {
            was: key.state,
            promoted,
        })
    }

    async fn import_next(
        &self,
        key: NewSigningKey,
        now: OffsetDateTime,
    ) -> Result<KeyImport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        lock(&tx).await?;
        let known = tx
            .query_opt("SELECT 1 FROM signing_keys WHERE kid = $1", &[&key.kid])
            .await
            .map_err(unavailable)?;
        if known.is_some() {
            return Ok(KeyImport::AlreadyKnown);
        }
        let replaced = kid_in_state(&tx, key.alg, KeyState::Next).await?;
        tx.execute(
            "UPDATE signing_keys SET state = 'retired', retired_at = $2 WHERE alg = $1 AND state = 'next'",
            &[&key.alg.as_str(), &now],
        )
        .await
        .map_err(unavailable)?;
        insert(&tx, &key, KeyState::Next, now).await?;
        bump_version(&tx).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(KeyImport::Imported { replaced })
    }

    async fn version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT version FROM keyring_version", &[])
            .await
            .map_err(unavailable)?;
        Ok(row.get(0))
    }
}

/// Serializes key-ring changes across instances (released at commit or rollback).
async fn lock(tx: &impl GenericClient) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&KEYRING_LOCK])
        .await
        .map_err(unavailable)?;
    Ok(())
}

async fn promote(
    tx: &impl GenericClient,
    kid: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE signing_keys SET state = 'active', activated_at = $2 WHERE kid = $1",
        &[&kid, &now],
    )
    .await
    .map_err(unavailable)?;
    Ok(())
}

async fn bump_version(tx: &impl GenericClient) -> Result<(), StoreError> {
    tx.execute("UPDATE keyring_version SET version = version + 1", &[])
        .await
        .map_err(unavailable)?;
    Ok(())
}

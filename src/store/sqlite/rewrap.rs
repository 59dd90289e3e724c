//! `tessera keys rewrap` in SQLite (book § Signing keys): every sealed item is read, re-sealed, and
//! written back in one transaction that only succeeds if no item changed meanwhile.

use async_trait::async_trait;

use super::{user_id_of, SqliteStore};
use crate::store::{Resealer, RewrapError, RewrapReport, SealedItem, SealedStore, StoreError};

type Rows = Vec<(String, Vec<u8>)>;

#[async_trait]
impl SealedStore for SqliteStore {
    async fn rewrap(&self, reseal: &Resealer<'_>) -> Result<RewrapReport, RewrapError> {
        let (keys, secrets, messages, providers): (Rows, Rows, Rows, Rows) = self
            .run(|c| {
                let all = |sql: &str| -> rusqlite::Result<Vec<(String, Vec<u8>)>> {
                    let mut stmt = c.prepare(sql)?;
                    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect()
                };
                Ok((
                    all("SELECT kid, private_sealed FROM signing_keys ORDER BY kid")?,
                    all("SELECT user_id, secret_sealed FROM user_totp ORDER BY user_id")?,
                    all("SELECT id, sealed FROM outbox ORDER BY id")?,
                    all("SELECT id, client_secret_sealed FROM upstream_providers \
                         WHERE client_secret_sealed IS NOT NULL ORDER BY id")?,
                ))
            })
            .await?;
        let mut key_updates = Vec::with_capacity(keys.len());
        for (kid, sealed) in keys {
            let new = reseal(SealedItem::SigningKey(&kid), &sealed)?;
            key_updates.push((kid, sealed, new));
        }
        let mut secret_updates = Vec::with_capacity(secrets.len());
        for (user, sealed) in secrets {
            let new = reseal(SealedItem::TotpSecret(user_id_of(&user)?), &sealed)?;
            secret_updates.push((user, sealed, new));
        }
        let mut message_updates = Vec::with_capacity(messages.len());
        for (id, sealed) in messages {
            let message = id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("outbox message id {id}")))?;
            let new = reseal(SealedItem::OutboxMessage(message), &sealed)?;
            message_updates.push((id, sealed, new));
        }
        let mut provider_updates = Vec::with_capacity(providers.len());
        for (id, sealed) in providers {
            let new = reseal(SealedItem::ProviderSecret(&id), &sealed)?;
            provider_updates.push((id, sealed, new));
        }
        let report = RewrapReport {
            signing_keys: key_updates.len(),
            totp_secrets: secret_updates.len(),
            outbox_messages: message_updates.len(),
            provider_secrets: provider_updates.len(),
        };
        let complete = self
            .write(move |tx| {
                let mut changed = 0;
                for (kid, old, new) in &key_updates {
                    changed += tx.execute(
                        "UPDATE signing_keys SET private_sealed = ?3 WHERE kid = ?1 AND private_sealed = ?2",
                        rusqlite::params![kid, old, new],
                    )?;
                }
                for (user, old, new) in &secret_updates {
                    changed += tx.execute(
                        "UPDATE user_totp SET secret_sealed = ?3 WHERE user_id = ?1 AND secret_sealed = ?2",
                        rusqlite::params![user, old, new],
                    )?;
                }
                for (id, old, new) in &message_updates {
                    // a message delivered meanwhile is gone: nothing to re-seal
                    tx.execute(
                        "UPDATE outbox SET sealed = ?3 WHERE id = ?1 AND sealed = ?2",
                        rusqlite::params![id, old, new],
                    )?;
                }
                for (id, old, new) in &provider_updates {
                    changed += tx.execute(
                        "UPDATE upstream_providers SET client_secret_sealed = ?3 WHERE id = ?1 AND client_secret_sealed = ?2",
                        rusqlite::params![id, old, new],
                    )?;
                }
                let total = key_updates.len() + secret_updates.len() + provider_updates.len();
                if changed != total {
                    // something changed since it was read: leave everything as it was
                    return Err(super::refusal(
                        "a key, TOTP secret or provider secret changed during the rewrap; nothing was changed, run it again".into(),
                    ));
                }
                Ok(())
            })
            .await;
        complete.map(|()| report).map_err(RewrapError::Store)
    }
}

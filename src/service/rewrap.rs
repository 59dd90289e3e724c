//! KEK rotation (book § Signing keys, `tessera keys rewrap`): every private signing key and TOTP secret
//! is opened with the current KEK and sealed under the new one, in one transaction; if any
//! item does not open, nothing changes. Refresh grace blobs live ten seconds and are not
//! re-sealed: a retry in flight during the switch gets `invalid_grant` at worst.

use crate::crypto::{Kek, Purpose};
use crate::store::{RewrapError, RewrapReport, SealedItem, SealedStore};

/// Re-seals everything `store` holds from `current` to `new`.
pub async fn rewrap(
    store: &dyn SealedStore,
    current: &Kek,
    new: &Kek,
) -> Result<RewrapReport, RewrapError> {
    let reseal = |item: SealedItem<'_>, sealed: &[u8]| {
        let (purpose, aad) = match item {
            SealedItem::SigningKey(kid) => (Purpose::SigningKey, kid.as_bytes().to_vec()),
            SealedItem::TotpSecret(user) => (Purpose::TotpSecret, user.as_bytes().to_vec()),
            SealedItem::OutboxMessage(id) => (Purpose::OutboxMessage, id.as_bytes().to_vec()),
            SealedItem::ProviderSecret(id) => (Purpose::ProviderSecret, id.as_bytes().to_vec()),
        };
        current
            .reseal(new, purpose, sealed, &aad)
            .map_err(|e| RewrapError::Unseal {
                item: item.to_string(),
                reason: e.to_string(),
            })
    };
    store.rewrap(&reseal).await
}

//! Loading a client for a purpose (book § Endpoints), written once: the cookie API, the MFA step
//! and the account API each ask "may this client do this?" here, never by hand.

use crate::domain::{Client, ClientId, GrantType};
use crate::store::{ClientStore, StoreError};

/// The client, if it may sign users in through tessera's own JSON API (and later the hosted
/// pages): public, first-party, allowed the `password` grant. A confidential client must
/// prove its secret at `/oauth2/token`, which these endpoints never take.
pub async fn spa_client(
    clients: &dyn ClientStore,
    id: &ClientId,
) -> Result<Option<Client>, StoreError> {
    Ok(clients.find_client(id).await?.filter(Client::is_spa_client))
}

/// The client, if the cookie API may rotate its refresh tokens: an SPA client (above) that
/// also allows `refresh_token`.
pub async fn spa_refresh_client(
    clients: &dyn ClientStore,
    id: &ClientId,
) -> Result<Option<Client>, StoreError> {
    Ok(spa_client(clients, id)
        .await?
        .filter(|c| c.allows(GrantType::RefreshToken)))
}

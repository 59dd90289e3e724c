//! Change notifications (book § Signing keys): what one instance publishes, every subscriber receives.

use std::time::Duration;

use futures_util::StreamExt;
use tessera::domain::ClientId;
use tessera::store::Change;

pub async fn changes_reach_a_subscriber_in_order(backend: &super::Backend) {
    let stores = &backend.stores;
    let mut changes = stores.changes.subscribe().await.unwrap();
    let client = Change::Client(ClientId::parse("contract-client").unwrap());
    stores.changes.publish(&Change::Keys).await.unwrap();
    stores.changes.publish(&client).await.unwrap();
    let mut received = Vec::new();
    while received.len() < 2 {
        let next = tokio::time::timeout(Duration::from_secs(5), changes.next()).await;
        received.push(
            next.expect("a change within 5 s")
                .expect("the stream is open"),
        );
    }
    assert_eq!(received, [Change::Keys, client]);
}

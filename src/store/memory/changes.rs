//! Change notifications within one process (book § Run the service): the server and its background tasks
//! share them at once; CLI processes writing the same database reach the server through the
//! stored key-ring version that the poll reads.

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::store::{Change, ChangeBus, ChangeStream, StoreError};

/// A broadcast channel of changes.
pub struct LocalChanges(broadcast::Sender<Change>);

impl Default for LocalChanges {
    fn default() -> Self {
        LocalChanges(broadcast::channel(256).0)
    }
}

#[async_trait]
impl ChangeBus for LocalChanges {
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        // no subscriber yet is not an error: nobody needs telling
        let _ = self.0.send(change.clone());
        Ok(())
    }

    async fn subscribe(&self) -> Result<ChangeStream, StoreError> {
        let receiver = self.0.subscribe();
        let changes = futures_util::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(change) => return Some((change, receiver)),
                    // a slow subscriber missed some: the key-ring poll catches up
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(changes.boxed())
    }
}

//! Changes other instances must act on at once (book § Signing keys propagation, client caches).

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use super::StoreError;
use crate::domain::ClientId;

/// A change other instances must act on at once (book § Signing keys propagation; client caches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The key ring changed: reload it.
    Keys,
    /// A client changed or was deleted: drop it from caches.
    Client(ClientId),
}

impl Change {
    pub fn to_message(&self) -> String {
        match self {
            Change::Keys => "keys".to_owned(),
            Change::Client(id) => format!("client:{id}"),
        }
    }

    pub fn from_message(message: &str) -> Option<Self> {
        match message.split_once(':') {
            None if message == "keys" => Some(Change::Keys),
            Some(("client", id)) => ClientId::parse(id).ok().map(Change::Client),
            _ => None,
        }
    }
}

/// The changes announced after a subscription started, in order; it ends when the
/// subscription is interrupted (subscribe again, then re-check what may have been missed).
pub type ChangeStream = BoxStream<'static, Change>;

/// Announces changes to every instance sharing the backend, and delivers them.
#[async_trait]
pub trait ChangeBus: Send + Sync {
    async fn publish(&self, change: &Change) -> Result<(), StoreError>;
    async fn subscribe(&self) -> Result<ChangeStream, StoreError>;
}

//! Change notifications over PostgreSQL `LISTEN/NOTIFY` (book § Signing keys, book § Running many instances). Key-ring and
//! client changes are written to PostgreSQL, so the notification travels with the data it
//! announces, on one single-node channel whether Redis is one server or a cluster (Redis
//! Cluster pub/sub is not something the cluster client offers). `NOTIFY` is scoped to
//! the database, so instances sharing it, and only they, hear each other. A notification
//! missed while unsubscribed is covered by the key-ring version poll and the client
//! cache's TTL.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, NoTls, Socket};

use super::tls::MakeRustls;
use super::{unavailable, PgStore};
use crate::store::{Change, ChangeBus, ChangeStream, StoreError};

/// The notification channel (one per database).
const CHANNEL: &str = "tessera_changes";

/// How to open a connection outside the pool: the pool's settings and TLS.
#[derive(Clone)]
pub(super) struct Direct {
    pub config: tokio_postgres::Config,
    pub tls: Option<MakeRustls>,
}

#[async_trait]
impl ChangeBus for PgStore {
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANNEL, &change.to_message()],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<ChangeStream, StoreError> {
        let mut config = self.direct.config.clone();
        // a connection that only listens notices a dead server through keep-alives
        config.keepalives_idle(Duration::from_secs(30));
        match &self.direct.tls {
            None => listen(&config, NoTls).await,
            Some(tls) => listen(&config, tls.clone()).await,
        }
    }
}

/// A connection of its own that `LISTEN`s; the stream ends when the connection does.
async fn listen<T>(config: &tokio_postgres::Config, tls: T) -> Result<ChangeStream, StoreError>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = config.connect(tls).await.map_err(unavailable)?;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => match Change::from_message(n.payload()) {
                    Some(change) => {
                        if sender.send(change).is_err() {
                            break; // nobody listens any more
                        }
                    }
                    None => tracing::debug!("ignored an unknown change notification"),
                },
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "change notification connection lost");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(unavailable)?;
    // the client lives as long as the stream: dropping the stream closes the connection
    let changes =
        futures_util::stream::unfold((receiver, client), |(mut receiver, client)| async {
            let change = receiver.recv().await?;
            Some((change, (receiver, client)))
        });
    Ok(changes.boxed())
}

//! One Redis or a Redis Cluster behind the same connection type (book § Running many instances). Every script
//! and every atomic group touches one hash slot (its keys share a `{tag}`); commands that
//! must reach several slots go through [`RedisStore::run_spread`] and
//! [`RedisStore::query_spread`]: one pipeline on a single Redis, one pipeline per slot on
//! a cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::try_join_all;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::{unavailable, RedisStore};
use crate::store::StoreError;

/// A connection to one Redis (reconnecting by itself) or to a Redis Cluster (following
/// its slot map and failovers by itself).
#[derive(Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "cloned for every command: a box would add an allocation to each clone"
)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// What opens connections: a client for one Redis, or for a cluster.
#[derive(Clone)]
pub(super) enum Opener {
    Single(redis::Client, redis::aio::ConnectionManagerConfig),
    Cluster(redis::cluster::ClusterClient),
}

impl Opener {
    /// One Redis at `url`, or a cluster seeded by the comma-separated `urls`; `rediss://`
    /// verifies against `ca` (PEM) or the system's roots.
    pub(super) fn new(
        urls: &str,
        cluster: bool,
        ca: Option<&[u8]>,
        timeout: Duration,
    ) -> redis::RedisResult<Opener> {
        let tls = urls.starts_with("rediss://");
        let certificates = || redis::TlsCertificates {
            client_tls: None,
            root_cert: ca.map(<[u8]>::to_vec),
        };
        if cluster {
            let seeds: Vec<&str> = urls.split(',').map(str::trim).collect();
            let mut builder = redis::cluster::ClusterClientBuilder::new(seeds)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                // a failover takes a few seconds: a request fails (503) rather than wait it out
                .retries(3)
                .min_retry_wait(50)
                .max_retry_wait(500);
            if tls {
                builder = builder.certs(certificates());
            }
            return builder.build().map(Opener::Cluster);
        }
        let client = if tls {
            redis::Client::build_with_tls(urls, certificates())?
        } else {
            redis::Client::open(urls)?
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_number_of_retries(1);
        Ok(Opener::Single(client, config))
    }

    /// Where it connects, for messages (no credentials).
    pub(super) fn endpoint(&self, urls: &str) -> String {
        match self {
            Opener::Single(client, _) => client.get_connection_info().addr.to_string(),
            Opener::Cluster(_) => urls
                .split(',')
                .filter_map(|u| url::Url::parse(u.trim()).ok())
                .map(|u| {
                    format!(
                        "{}:{}",
                        u.host_str().unwrap_or_default(),
                        u.port().unwrap_or(6379)
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    pub(super) async fn open(&self) -> redis::RedisResult<Conn> {
        match self {
            Opener::Single(client, config) => {
                ConnectionManager::new_with_config(client.clone(), config.clone())
                    .await
                    .map(Conn::Single)
            }
            Opener::Cluster(client) => client.get_async_connection().await.map(Conn::Cluster),
        }
    }
}

/// The hash slot of a command whose first argument is its key (all the commands given to
/// the spread helpers are).
fn slot_of(cmd: &Cmd) -> u16 {
    match cmd.args_iter().nth(1) {
        Some(redis::Arg::Simple(key)) => redis::cluster_routing::get_slot(key),
        _ => 0,
    }
}

impl RedisStore {
    /// Runs `pipe`'s commands, whose keys lie in different hash slots, ignoring their
    /// replies: one round trip on a single Redis; on a cluster, one pipeline per slot
    /// (keeping their order within it), all sent at once. Not atomic across slots.
    pub(super) async fn run_spread(&self, pipe: &Pipeline) -> Result<(), StoreError> {
        let mut conn = self.connection().await;
        let Conn::Cluster(cluster) = &conn else {
            return pipe.query_async::<()>(&mut conn).await.map_err(unavailable);
        };
        let mut by_slot: BTreeMap<u16, Pipeline> = BTreeMap::new();
        for cmd in pipe.cmd_iter() {
            by_slot
                .entry(slot_of(cmd))
                .or_default()
                .add_command(cmd.clone())
                .ignore();
        }
        try_join_all(by_slot.into_values().map(|slot| {
            let mut cluster = cluster.clone();
            async move { slot.query_async::<()>(&mut cluster).await }
        }))
        .await
        .map(drop)
        .map_err(unavailable)
    }

    /// The replies to `pipe`'s commands, in order, whose keys lie in different hash slots:
    /// one round trip on a single Redis; on a cluster, every command at once.
    pub(super) async fn query_spread(&self, pipe: &Pipeline) -> Result<Vec<Value>, StoreError> {
        let mut conn = self.connection().await;
        let Conn::Cluster(cluster) = &conn else {
            return pipe.query_async(&mut conn).await.map_err(unavailable);
        };
        try_join_all(pipe.cmd_iter().map(|cmd| {
            let mut cluster = cluster.clone();
            async move { cmd.query_async::<Value>(&mut cluster).await }
        }))
        .await
        .map_err(unavailable)
    }

    /// Where commands that go to every server go: the one Redis, or each cluster master.
    pub(super) async fn masters(&self) -> Result<Vec<Node>, StoreError> {
        match self.connection().await {
            Conn::Single(_) => Ok(vec![Node::Only]),
            Conn::Cluster(mut cluster) => Ok(cluster_masters(&mut cluster)
                .await?
                .into_iter()
                .map(|(host, port)| Node::Master(host, port))
                .collect()),
        }
    }

    /// `cmd`'s reply from `node`.
    pub(super) async fn on_node<T: redis::FromRedisValue>(
        &self,
        node: &Node,
        cmd: &Cmd,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection().await;
        let reply = match (&mut conn, node) {
            (Conn::Cluster(cluster), Node::Master(host, port)) => {
                let at = SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                };
                cluster
                    .route_command(cmd, RoutingInfo::SingleNode(at))
                    .await
            }
            _ => cmd.query_async(&mut conn).await,
        };
        reply
            .and_then(|v| redis::from_redis_value(&v))
            .map_err(unavailable)
    }
}

/// A server commands can be sent to one by one.
pub(super) enum Node {
    /// The one Redis.
    Only,
    /// A cluster master, by address.
    Master(String, u16),
}

/// The cluster's masters, from `CLUSTER SLOTS`: each slot range's first node.
async fn cluster_masters(
    cluster: &mut ClusterConnection,
) -> Result<Vec<(String, u16)>, StoreError> {
    let ranges: Vec<Vec<Value>> = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(cluster)
        .await
        .map_err(unavailable)?;
    let mut found: Vec<(String, u16)> = Vec::new();
    for range in ranges {
        let Some(Value::Array(node)) = range.get(2) else {
            continue;
        };
        let host: Option<String> = node.first().and_then(|v| redis::from_redis_value(v).ok());
        let port: Option<u16> = node.get(1).and_then(|v| redis::from_redis_value(v).ok());
        if let (Some(host), Some(port)) = (host, port) {
            if !found.contains(&(host.clone(), port)) {
                found.push((host, port));
            }
        }
    }
    if found.is_empty() {
        return Err(StoreError::Corrupt("CLUSTER SLOTS named no master".into()));
    }
    Ok(found)
}

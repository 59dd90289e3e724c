//! A loopback TCP proxy between the app and a backend, to cut it (an outage) and count
//! what went through it.

use std::sync::Arc;

use super::db::{pg_base_url, TestDb};

/// A loopback TCP proxy to a backend, which a test can cut to simulate an outage, and
/// which counts the bytes clients send through it (what reached the backend).
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    upstream: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    pub async fn to(upstream: std::net::SocketAddr) -> Self {
        Self::listen("127.0.0.1:0".parse().unwrap(), upstream).await
    }

    /// Listens again on the same address after `cut` (the backend "comes back").
    pub async fn restart(self) -> Self {
        self.cut();
        Self::listen(self.addr, self.upstream).await
    }

    async fn listen(at: std::net::SocketAddr, upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(at).await.unwrap();
        Self::on(listener, upstream)
    }

    /// A proxy on a listener bound beforehand (so its address can be configured first).
    pub fn on(listener: tokio::net::TcpListener, upstream: std::net::SocketAddr) -> Self {
        let addr = listener.local_addr().unwrap();
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let counter = counter.clone();
                connections.spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = from_client.read(&mut buf).await {
                            if n == 0 || to_server.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                        }
                        let _ = to_server.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                        let _ = to_client.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Proxy {
            addr,
            upstream,
            task,
            sent,
        }
    }

    /// Stops accepting and drops every open connection.
    pub fn cut(&self) {
        self.task.abort();
    }

    /// Bytes clients have sent through the proxy so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A Postgres URL for `db` through `proxy`.
pub fn db_url_via(db: &TestDb, proxy: &Proxy) -> String {
    db.url().replace("127.0.0.1:5432", &proxy.addr.to_string())
}

/// The address of the test Postgres server.
pub fn pg_addr() -> std::net::SocketAddr {
    let base = pg_base_url();
    let host = base.rsplit('@').next().unwrap_or("127.0.0.1:5432");
    host.trim_end_matches('/').parse().unwrap()
}

//! A loopback webhook receiver for the tests of delivery (reset links, security notices):
//! it records each JSON body it accepts, and can play an outage or a proxy that closes
//! pooled connections.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback webhook receiver: records each JSON body, answers 204 after `delay`.
pub struct Webhook {
    pub url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    /// The `503`s still to answer.
    refusals: Arc<std::sync::atomic::AtomicUsize>,
}

impl Webhook {
    pub async fn start(delay: Duration) -> Self {
        Self::serve(delay, false, 0).await
    }

    /// A receiver that answers `503` to its first `refusals` requests (an outage), then
    /// records and accepts as `start` does.
    pub async fn down_for(refusals: usize) -> Self {
        Self::serve(Duration::ZERO, false, refusals).await
    }

    /// A receiver that keeps each connection open after answering (no `connection:
    /// close`), and closes it without an answer when the next request arrives on it: what
    /// a webhook behind an idle-timeout proxy does to a pooled connection.
    pub async fn closing_pooled_connections() -> Self {
        Self::serve(Duration::ZERO, true, 0).await
    }

    async fn serve(delay: Duration, rude: bool, refusals: usize) -> Self {
        let refusals = Arc::new(std::sync::atomic::AtomicUsize::new(refusals));
        let left = refusals.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/tessera", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                let refusals = refusals.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap())
                                })
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + length {
                                let body: Value =
                                    serde_json::from_slice(&buf[end + 4..end + 4 + length])
                                        .unwrap();
                                tokio::time::sleep(delay).await;
                                let down = refusals
                                    .fetch_update(
                                        std::sync::atomic::Ordering::SeqCst,
                                        std::sync::atomic::Ordering::SeqCst,
                                        |n| n.checked_sub(1),
                                    )
                                    .is_ok();
                                if down {
                                    let _ = socket
                                        .write_all(
                                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                                        )
                                        .await;
                                    return;
                                }
                                seen.lock().unwrap().push(body);
                                if rude {
                                    let _ = socket
                                        .write_all(
                                            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
                                        )
                                        .await;
                                    // the next request on this connection gets no answer
                                    let _ = socket.read(&mut chunk).await;
                                    return;
                                }
                                // one request per connection, and it says so: without
                                // `connection: close` the client may reuse the connection
                                // this task is about to close, and lose its next request
                                let _ = socket
                                    .write_all(
                                        b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                                    )
                                    .await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Webhook {
            url,
            bodies,
            refusals: left,
        }
    }

    /// How many bodies were accepted so far.
    pub fn received(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    /// The outage's `503`s still to answer.
    pub fn refusals_left(&self) -> usize {
        self.refusals.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until only `left` of the outage's `503`s remain to be answered.
    pub async fn wait_refusing(&self, left: usize) {
        let started = Instant::now();
        while self.refusals.load(std::sync::atomic::Ordering::SeqCst) > left {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the webhook was not called again"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let bodies = self.bodies.lock().unwrap().clone();
            if bodies.len() >= count {
                return bodies;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "webhook got {bodies:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

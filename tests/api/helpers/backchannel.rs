//! A relying party's back-channel logout endpoint for the tests (book § Integrating):
//! `tests/browser/backchannel_rp.mjs`, which verifies each logout token with `jose` against
//! the app's JWKS and answers 200 (verified) or 400, and prints what it saw.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The Node.js receiver, at `http://127.0.0.1:<port>/backchannel`; killed when dropped.
pub struct BackchannelRp {
    seen: Arc<Mutex<Vec<Value>>>,
    _child: tokio::process::Child,
}

impl BackchannelRp {
    /// Starts the receiver on `port` for tokens from `issuer` to `client_id`, with the
    /// keys at `jwks_uri`.
    pub async fn start(port: u16, issuer: &str, client_id: &str, jwks_uri: &str) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
        assert!(
            std::path::Path::new(dir).join("node_modules/jose").exists(),
            "the back-channel receiver needs tests/browser/node_modules: `bash scripts/setup` installs it"
        );
        let mut child = tokio::process::Command::new("node")
            .current_dir(dir)
            .args([
                "backchannel_rp.mjs",
                &port.to_string(),
                issuer,
                client_id,
                jwks_uri,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node is needed by the back-channel tests");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the receiver starts in 20 s")
            .unwrap()
            .expect("the receiver prints that it listens");
        assert!(first.contains("listening"), "{first}");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        BackchannelRp {
            seen,
            _child: child,
        }
    }

    /// What it was sent so far, in order.
    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (`within` at most) until `n` requests arrived; all it saw.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} logout requests arrived in {within:?}: {seen:?}",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

//! An SMTP server on loopback for the tests of mail (aiosmtpd, run by
//! `tests/interop/smtp_sink.py`): it writes each message it accepts as JSON.

use std::io::BufRead;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{TempDir, TestCa};

/// The password the sink's AUTH takes for `bob`.
pub const SMTP_PASSWORD: &str = "relay-Password-0451";

/// An SMTP server of the test's own on `port`; killed when dropped.
pub struct SmtpSink {
    dir: TempDir,
    child: std::process::Child,
}

impl SmtpSink {
    pub fn start(port: u16, args: &[&str]) -> Self {
        let dir = TempDir::new();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/smtp_sink.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(&dir.0)
            .arg(port.to_string())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the SMTP server (aiosmtpd: bash scripts/setup installs it)");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        SmtpSink { dir, child }
    }

    /// STARTTLS with `ca`'s certificate, and AUTH as `bob`.
    pub fn secure(port: u16, ca: &TestCa) -> Self {
        let (cert, key) = (ca.file("server.crt"), ca.file("server.key"));
        Self::start(
            port,
            &["--tls", &cert, &key, "--user", "bob", SMTP_PASSWORD],
        )
    }

    pub fn received(&self) -> Vec<Value> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir.0)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| serde_json::from_slice(&std::fs::read(self.dir.0.join(n)).unwrap()).unwrap())
            .collect()
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the SMTP server got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

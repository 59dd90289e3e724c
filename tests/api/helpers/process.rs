//! The real binary as a process: a free port for it, and waiting until it answers.

use std::process::Child;
use std::time::{Duration, Instant};

/// Runs `program` with `args` (in `dir` when given); panics with its stderr unless it
/// succeeds.
pub fn run_ok(program: &str, dir: Option<&std::path::Path>, args: &[&str]) {
    let mut command = std::process::Command::new(program);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let out = command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed by this test: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the suite runs as root (PostgreSQL's tools then run as the postgres user).
pub fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (30 s at most) until `GET http://127.0.0.1:{port}{path}` succeeds; panics if the
/// process exits first.
pub async fn until_answering(child: &mut Child, port: u16, path: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = http
            .get(format!("http://127.0.0.1:{port}{path}"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("tessera serve exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "tessera serve did not answer {path} in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

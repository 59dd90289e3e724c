//! A PostgreSQL cluster of a test's own on loopback (the machine's initdb and pg_ctl),
//! TLS-only: `pg_hba.conf` rejects every connection over TCP that is not TLS.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::db::TempDir;
use super::own_redis::TestCa;

pub struct OwnPostgres {
    port: u16,
    dir: TempDir,
    bin: PathBuf,
}

/// The newest installed PostgreSQL's programs.
fn bindir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs are needed (/usr/lib/postgresql/*/bin)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect("no initdb under /usr/lib/postgresql")
}

/// Runs a server program as the `postgres` user when this process is root (initdb and
/// the server refuse to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    let mut command = if super::running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args).output().unwrap()
}

fn run(program: &str, args: &[&str]) {
    super::run_ok(program, None, args);
}

impl OwnPostgres {
    /// A TLS-only cluster serving `ca`'s server certificate.
    pub fn start_tls(ca: &TestCa) -> Self {
        let (dir, bin) = (TempDir::new(), bindir());
        let d = dir.0.display().to_string();
        for file in ["server.crt", "server.key"] {
            std::fs::copy(ca.file(file), dir.0.join(file)).unwrap();
        }
        if super::running_as_root() {
            run("chown", &["-R", "postgres:postgres", &d]);
        }
        run("chmod", &["600", &format!("{d}/server.key")]);
        let data = format!("{d}/data");
        let init = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n";
        std::fs::write(format!("{data}/pg_hba.conf"), hba).unwrap();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let options = format!(
                "-p {port} -k {d} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={d}/server.crt \
                 -c ssl_key_file={d}/server.key -c fsync=off -c max_connections=40"
            );
            let log = format!("{d}/server.log");
            let started = as_postgres(
                &bin.join("pg_ctl"),
                &[
                    "-D", &data, "-l", &log, "-w", "-t", "20", "-o", &options, "start",
                ],
            );
            if started.status.success() {
                return OwnPostgres { port, dir, bin };
            }
        }
        panic!(
            "the TLS PostgreSQL did not start: {}",
            std::fs::read_to_string(dir.0.join("server.log")).unwrap_or_default()
        );
    }

    /// `postgres://postgres@HOST:PORT/postgres?QUERY`.
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }

    /// How many of the server's connections are TLS (asked over its Unix socket).
    pub fn tls_connections(&self) -> u64 {
        let d = self.dir.0.display().to_string();
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                &d,
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-At",
                "-c",
            ])
            .arg("SELECT count(*) FROM pg_stat_ssl WHERE ssl")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.0.join("data").display().to_string();
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "stop"],
        );
    }
}

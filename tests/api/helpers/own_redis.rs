//! A redis-server of a test's own on loopback (from the machine's redis-server), plain or
//! TLS-only, for tests of Redis's own settings and of TLS.

use std::time::Duration;

use super::db::TempDir;

/// A CA and a server certificate for 127.0.0.1 and localhost (or `host`), made with the
/// openssl command for one test.
pub struct TestCa {
    pub dir: TempDir,
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    super::run_ok("openssl", Some(dir), args);
}

impl TestCa {
    /// A throw-away CA with a server certificate for `names` (subjectAltName entries).
    pub fn new(names: &str) -> Self {
        let dir = TempDir::new();
        let d = dir.0.as_path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            d,
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-days",
                    "1",
                    "-subj",
                    "/CN=tessera test CA",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                ],
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                &["req"][..],
                &ec,
                &[
                    "-subj",
                    "/CN=tessera test server",
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                ],
            ]
            .concat(),
        );
        std::fs::write(d.join("san.ext"), format!("subjectAltName={names}\n")).unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "san.ext",
                "-out",
                "server.crt",
            ],
        );
        TestCa { dir }
    }

    pub fn file(&self, name: &str) -> String {
        self.dir.0.join(name).display().to_string()
    }
}

/// A redis-server of the test's own, on a free loopback port, in a temporary directory.
pub struct OwnRedis {
    port: u16,
    dir: TempDir,
    args: Vec<String>,
    /// TLS-only (no plain port) with this CA's server certificate.
    tls: Option<String>,
    child: std::process::Child,
}

impl OwnRedis {
    pub fn start(args: &[&str]) -> Self {
        Self::start_on(args, None)
    }

    /// A TLS-only Redis (the plain port closed) serving `ca`'s server certificate.
    pub fn start_tls(ca: &TestCa, args: &[&str]) -> Self {
        Self::start_on(args, Some(ca.dir.0.display().to_string()))
    }

    fn start_on(args: &[&str], tls: Option<String>) -> Self {
        let dir = TempDir::new();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        // a free port can be taken between the probe and redis-server's bind: try another
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(child) = Self::spawn(port, &dir.0, &args, tls.as_deref()) {
                return OwnRedis {
                    port,
                    dir,
                    args,
                    tls,
                    child,
                };
            }
        }
        panic!("redis-server did not start on any of three free ports");
    }

    fn spawn(
        port: u16,
        dir: &std::path::Path,
        args: &[String],
        tls: Option<&str>,
    ) -> Option<std::process::Child> {
        let (mut listen, mut ping) = (vec![], vec![]);
        match tls {
            None => listen.extend(["--port".to_owned(), port.to_string()]),
            Some(ca) => {
                listen.extend(["--port", "0", "--tls-port"].map(str::to_owned));
                listen.push(port.to_string());
                for (flag, file) in [
                    ("--tls-cert-file", "server.crt"),
                    ("--tls-key-file", "server.key"),
                    ("--tls-ca-cert-file", "ca.crt"),
                ] {
                    listen.extend([flag.to_owned(), format!("{ca}/{file}")]);
                }
                listen.extend(["--tls-auth-clients", "no"].map(str::to_owned));
                ping.extend([
                    "--tls".to_owned(),
                    "--cacert".to_owned(),
                    format!("{ca}/ca.crt"),
                ]);
            }
        }
        if args.iter().any(|a| a == "--cluster-enabled") {
            // the cluster bus defaults to port + 10000, which may be taken or out of range
            listen.extend(["--cluster-port".to_owned(), super::free_port().to_string()]);
        }
        let mut child = std::process::Command::new("redis-server")
            .args(&listen)
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is needed (Debian's redis-server package)");
        for _ in 0..100 {
            let ping = std::process::Command::new("redis-cli")
                .args(&ping)
                .args(["-p", &port.to_string(), "ping"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&ping.stdout).trim() == "PONG" {
                return Some(child);
            }
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// `redis://` or, TLS-only, `rediss://` to 127.0.0.1.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `kill -9`: the server is gone at once, as in a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `SHUTDOWN` (AOF flushed), then the same server again on the same files.
    pub fn restart(&mut self) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown"])
            .output();
        assert!(self.tls.is_none(), "restart is for plain Redis");
        let _ = self.child.wait();
        self.child = Self::spawn(self.port, &self.dir.0, &self.args, None)
            .expect("redis-server did not come back on its port");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

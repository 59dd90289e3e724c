//! A Redis Cluster of a test's own on loopback (book § Running many instances): redis-server processes with
//! `cluster-enabled yes`, joined by `redis-cli --cluster create`.

use std::time::{Duration, Instant};

use super::OwnRedis;

pub struct RedisCluster {
    pub nodes: Vec<OwnRedis>,
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli is needed (Debian's redis-tools package)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl RedisCluster {
    /// `masters` masters with `replicas` replicas each, every slot covered and every
    /// replica in sync. A node is declared failed after one second of silence.
    pub fn start(masters: usize, replicas: usize) -> Self {
        let args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "1000",
            "--appendonly",
            "no",
            "--save",
            "",
        ];
        let nodes: Vec<OwnRedis> = (0..masters * (1 + replicas))
            .map(|_| OwnRedis::start(&args))
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let out = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli is needed (Debian's redis-tools package)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let cluster = RedisCluster { nodes };
        cluster.until(Duration::from_secs(30), |c| {
            c.nodes
                .iter()
                .all(|n| cli(n.port(), &["cluster", "info"]).contains("cluster_state:ok"))
                && c.in_sync(masters * replicas)
        });
        cluster
    }

    /// Whether `replicas` replicas have finished their first sync.
    fn in_sync(&self, replicas: usize) -> bool {
        let synced = self
            .nodes
            .iter()
            .filter(|n| {
                let info = cli(n.port(), &["info", "replication"]);
                info.contains("role:slave") && info.contains("master_link_status:up")
            })
            .count();
        synced == replicas
    }

    fn until(&self, within: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + within;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "the Redis Cluster did not settle in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `REDIS_URL` for tessera: every node as a seed.
    pub fn seeds(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.url())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes that are masters now, by index.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| cli(self.nodes[i].port(), &["role"]).starts_with("master"))
            .collect()
    }

    /// The keys matching `pattern` on node `index`.
    pub fn keys_on(&self, index: usize, pattern: &str) -> Vec<String> {
        cli(self.nodes[index].port(), &["--scan", "--pattern", pattern])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Kills master `index` with `kill -9` and waits until its replica has taken over and
    /// the cluster is whole again; returns how long that took.
    pub fn fail_master(&mut self, index: usize) -> Duration {
        let started = Instant::now();
        self.nodes[index].kill();
        let alive: Vec<u16> = (0..self.nodes.len())
            .filter(|&i| i != index)
            .map(|i| self.nodes[i].port())
            .collect();
        let dead = format!("127.0.0.1:{}@", self.nodes[index].port());
        self.until(Duration::from_secs(30), |_| {
            alive.iter().all(|&p| {
                let failed = cli(p, &["cluster", "nodes"]).lines().any(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    fields.get(1).is_some_and(|a| a.starts_with(&dead))
                        && fields
                            .get(2)
                            .is_some_and(|f| f.split(',').any(|f| f == "fail"))
                });
                failed && cli(p, &["cluster", "info"]).contains("cluster_state:ok")
            })
        });
        started.elapsed()
    }
}

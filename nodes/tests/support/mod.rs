//! Test support: real `converge-node` processes on free loopback ports.
//!
//! A [`Cluster`] owns its processes and data dirs; dropping it kills every
//! node, so a failing test never leaks processes.
#![allow(dead_code)]

pub mod proxy;

use serde_json::Value;
use std::hash::{BuildHasher, RandomState};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A port that was free a moment ago, below the kernel's ephemeral range.
///
/// Tests kill nodes and restart them on the same ports. A port from the
/// ephemeral range (what binding port 0 gives) can be handed, while its node
/// is down, to any outgoing connection as its source port, and the restart
/// then fails with "address in use" (CI saw exactly that). Ports below the
/// range are only ever taken by an explicit bind. Each call moves on to the
/// next port, from a random start per process, so no port repeats within a
/// test binary.
pub fn free_port() -> u16 {
    static START: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = below_ephemeral_range();
    let span = u32::from(high - low);
    // RandomState is seeded from the OS: a random number without a crate.
    let start =
        *START.get_or_init(|| RandomState::new().hash_one(std::process::id()) as u32) % span;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = low + ((start + step) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// `[10000, first ephemeral port)`, from the kernel's setting where it has one.
fn below_ephemeral_range() -> (u16, u16) {
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    (10000, first_ephemeral.max(10001))
}

/// One node's fixed identity (ports survive restarts).
pub struct NodeSpec {
    pub id: String,
    pub http: u16,
    pub peer: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// Where this node dials each other node (their peer port, or a proxy).
    pub dial: Vec<(String, u16)>,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub specs: Vec<NodeSpec>,
    pub children: Vec<Option<Child>>,
    pub configs: Vec<String>,
    pub client: reqwest::Client,
    /// `(from, to)` → the proxy node `from` dials to reach `to`, if proxied.
    pub proxies: std::collections::HashMap<(usize, usize), proxy::HangingProxy>,
    /// Extra flags every node starts with (e.g. `--zoo-bug NAME`).
    pub node_args: Vec<String>,
}

impl Cluster {
    /// `n` nodes, all with `config` (TOML text), started and healthy.
    pub async fn start(n: usize, config: &str) -> Cluster {
        Self::start_with(vec![config.to_string(); n]).await
    }

    /// One config per node (to test mismatches).
    pub async fn start_with(configs: Vec<String>) -> Cluster {
        Self::start_custom(configs, false).await
    }

    /// Like [`Cluster::start_with`]; with `proxied`, every internode link
    /// goes through its own [`proxy::HangingProxy`].
    pub async fn start_custom(configs: Vec<String>, proxied: bool) -> Cluster {
        Self::start_with_args(configs, proxied, Vec::new()).await
    }

    /// Like [`Cluster::start_custom`], every node started with `node_args`
    /// appended to its command line.
    pub async fn start_with_args(
        configs: Vec<String>,
        proxied: bool,
        node_args: Vec<String>,
    ) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let n = configs.len();
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut proxies = std::collections::HashMap::new();
        if proxied {
            for i in 0..n {
                for j in (0..n).filter(|&j| j != i) {
                    proxies.insert((i, j), proxy::HangingProxy::start(ports[j].1).await);
                }
            }
        }
        let specs = (0..n)
            .map(|i| NodeSpec {
                id: format!("n{}", i + 1),
                http: ports[i].0,
                peer: ports[i].1,
                data_dir: dir.path().join(format!("n{}", i + 1)),
                log: dir.path().join(format!("n{}.log", i + 1)),
                dial: (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        (
                            format!("n{}", j + 1),
                            proxies
                                .get(&(i, j))
                                .map_or(ports[j].1, |p: &proxy::HangingProxy| p.port),
                        )
                    })
                    .collect(),
            })
            .collect();
        let client = reqwest::Client::builder().build().unwrap();
        let mut cluster = Cluster {
            dir,
            specs,
            children: (0..n).map(|_| None).collect(),
            configs,
            client,
            proxies,
            node_args,
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        for i in 0..n {
            cluster.wait_healthy(i).await;
        }
        cluster
    }

    fn config_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("n{}.toml", i + 1))
    }

    /// Starts node `i` (not waiting for health).
    pub fn spawn(&mut self, i: usize) {
        std::fs::write(self.config_path(i), &self.configs[i]).unwrap();
        let spec = &self.specs[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_converge-node"));
        cmd.arg("--id")
            .arg(&spec.id)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", spec.http))
            .arg("--peer-listen")
            .arg(format!("127.0.0.1:{}", spec.peer))
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .arg("--config")
            .arg(self.config_path(i))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        for (id, port) in &spec.dial {
            cmd.arg("--peer").arg(format!("{id}=127.0.0.1:{port}"));
        }
        cmd.args(&self.node_args);
        self.children[i] = Some(cmd.spawn().unwrap());
    }

    /// Polls `/health` until it answers ok, or panics after 30 s.
    pub async fn wait_healthy(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.client.get(self.url(i, "/health")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {} never became healthy; log:\n{}",
                i + 1,
                self.log(i)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// kill -9.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM; returns the exit code.
    pub fn terminate(&mut self, i: usize) -> Option<i32> {
        let mut child = self.children[i].take()?;
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "node {} ignored SIGTERM", i + 1);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_healthy(i).await;
    }

    /// Cuts (or restores) both directions between `a` and `b`.
    pub fn set_link(&self, a: usize, b: usize, forwarding: bool) {
        self.proxies[&(a, b)].set_forwarding(forwarding);
        self.proxies[&(b, a)].set_forwarding(forwarding);
    }

    pub fn url(&self, i: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.specs[i].http, path)
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.specs[i].log).unwrap_or_default()
    }

    /// PUT a value; returns (status, body).
    pub async fn put(
        &self,
        i: usize,
        key: &str,
        value: &str,
        query: &str,
        context: Option<&str>,
    ) -> (u16, Value) {
        let mut body = serde_json::json!({ "value": value });
        if let Some(c) = context {
            body["context"] = Value::String(c.to_string());
        }
        let r = self
            .client
            .put(self.url(i, &format!("/kv/{key}{query}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn get(&self, i: usize, key: &str, query: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(i, &format!("/kv/{key}{query}")))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn delete(
        &self,
        i: usize,
        key: &str,
        query: &str,
        context: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .delete(self.url(i, &format!("/kv/{key}{query}")));
        if let Some(c) = context {
            req = req.json(&serde_json::json!({ "context": c }));
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// `ops` PUTs from `workers` concurrent clients, each of which must
    /// answer 200. `write(i)` gives the i-th: (node index, path after
    /// `/kv/` with any query, value).
    pub async fn put_concurrently(
        &self,
        workers: usize,
        ops: usize,
        write: fn(usize) -> (usize, String, String),
    ) {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..workers {
            let client = self.client.clone();
            let urls: Vec<String> = (0..self.specs.len()).map(|i| self.url(i, "/kv/")).collect();
            tasks.spawn(async move {
                for i in (worker..ops).step_by(workers) {
                    let (node, path, value) = write(i);
                    let r = client
                        .put(format!("{}{path}", urls[node]))
                        .json(&serde_json::json!({ "value": value }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200, "PUT {path}");
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    }

    /// `PUT /admin/clock` on node `i`; the node must accept it.
    pub async fn set_clock_offset(&self, i: usize, offset_ms: i64) {
        let r = self
            .client
            .put(self.url(i, "/admin/clock"))
            .json(&serde_json::json!({ "offset_ms": offset_ms }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// `/admin/dump` parsed into (key → line).
    pub async fn dump(&self, i: usize) -> std::collections::BTreeMap<String, Value> {
        let text = self
            .client
            .get(self.url(i, "/admin/dump"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|v| (v["key"].as_str().unwrap().to_string(), v))
            .collect()
    }

    /// The value of one metric line (exact name with labels), if present.
    pub async fn metric(&self, i: usize, name: &str) -> Option<f64> {
        let text = self
            .client
            .get(self.url(i, "/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
    }

    pub fn data_dir(&self, i: usize) -> &Path {
        &self.specs[i].data_dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Values of a GET answer.
pub fn values(body: &Value) -> Vec<String> {
    body["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Polls `check` until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

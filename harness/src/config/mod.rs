//! A test's effective configuration: the `--config` TOML file, overridden by
//! flags, filled with defaults, validated.
//!
//! Merging happens on TOML tables ([`merge`]) before one strict
//! deserialization, so a field has a single definition here and an unknown
//! or ill-typed field is reported by name whichever way it came in. The
//! `[node]` table is the node's own config: the harness's test defaults
//! for the node with the test's fields laid on top ([`merge`]), and the
//! cluster settings the harness must agree with (`rf`, `r`, `w`, `conflict`)
//! written into its `[cluster]` table. The effective table is stored as the
//! run's node.toml and shown in its report.

pub mod deploy;
pub mod duration;
pub mod merge;
pub mod overrides;

pub use deploy::{
    DeploySection, DeployTarget, DockerControl, DockerTarget, RemoteClock, SshTarget,
};
pub use merge::load;
pub use overrides::Overrides;

use crate::nemesis::FaultKind;
use duration::HumanDuration;
use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// A bad config or flag: one line naming the problem. Exit code 2.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The whole effective test, as stored in the run directory (`config.toml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestConfig {
    #[serde(default)]
    pub test: TestSection,
    #[serde(default)]
    pub workload: WorkloadSection,
    #[serde(default)]
    pub nemesis: NemesisSection,
    #[serde(default)]
    pub checks: ChecksSection,
    #[serde(default)]
    pub deploy: DeploySection,
    /// The node's config file: harness defaults, the test's fields on top
    /// (plus the cluster settings above when written out).
    #[serde(default)]
    pub node: toml::Table,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestSection {
    pub name: String,
    pub nodes: u32,
    pub rf: u32,
    pub r: u32,
    pub w: u32,
    /// "lww" or "dvv"; decides the node's resolution and the checkers' rules.
    pub conflict: String,
    pub time_limit: HumanDuration,
    pub concurrency: u32,
    /// Total ops/s across all clients; `None` is as fast as the cluster goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Always set after [`load`] (a random one is drawn and recorded).
    pub seed: u64,
    pub convergence_timeout: HumanDuration,
    pub op_timeout: HumanDuration,
    pub store: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub junit: Option<PathBuf>,
}

impl Default for TestSection {
    fn default() -> Self {
        TestSection {
            name: "default".into(),
            nodes: 5,
            rf: 3,
            r: 2,
            w: 2,
            conflict: "lww".into(),
            time_limit: HumanDuration::from_secs(60),
            concurrency: 10,
            rate: None,
            seed: 0,
            convergence_timeout: HumanDuration::from_secs(20),
            op_timeout: HumanDuration::from_secs(2),
            store: PathBuf::from("store"),
            junit: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSection {
    /// "register" or "causal".
    pub kind: String,
    pub keys: u64,
    pub zipf: f64,
    /// Share of ops on uniformly chosen keys (the cold tail).
    pub uniform_share: f64,
    /// e.g. "read=50,write=40,delete=10".
    pub mix: String,
    /// Causal workload: the share of writes sent without a context.
    pub blind_writes: f64,
    /// Each client process writes a new lifecycle key per this much test
    /// time (workloads/src/lifecycle.rs); "0s" turns lifecycles off.
    pub lifecycle_every: HumanDuration,
    /// A lifecycle key is deleted this long after its write.
    pub delete_after: HumanDuration,
    /// Every other deleted lifecycle key is written again this long after
    /// the delete; unset: the node's `[node.tombstones] gc_grace`.
    pub rewrite_after: Option<HumanDuration>,
}

impl Default for WorkloadSection {
    fn default() -> Self {
        let w = workloads::WorkloadConfig::default();
        let life = w.lifecycle.unwrap_or_default();
        WorkloadSection {
            kind: w.kind.to_string(),
            keys: w.keys,
            zipf: w.zipf_exponent,
            uniform_share: w.uniform_share,
            blind_writes: w.blind_writes,
            lifecycle_every: HumanDuration(life.every),
            delete_after: HumanDuration(life.delete_after),
            rewrite_after: None,
            mix: format!(
                "read={},write={},delete={}",
                w.mix.read, w.mix.write, w.mix.delete
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NemesisSection {
    #[serde(deserialize_with = "fault_list")]
    pub faults: Vec<FaultKind>,
    pub interval: HumanDuration,
    pub clock_skew: HumanDuration,
    pub max_down: u32,
    pub latency: HumanDuration,
    /// Probability (0..=1) of dropping each internode packet, on remote
    /// deploys (iptables statistic match; docs/deploy.md).
    pub loss: f64,
}

impl Default for NemesisSection {
    fn default() -> Self {
        NemesisSection {
            faults: vec![
                FaultKind::Partition,
                FaultKind::Clock,
                FaultKind::Crash,
                FaultKind::Wipe,
                FaultKind::Link,
            ],
            interval: HumanDuration::from_secs(5),
            clock_skew: HumanDuration::from_secs(5),
            max_down: 1,
            latency: HumanDuration::default(),
            loss: 0.0,
        }
    }
}

/// Accepts `"partition,crash"` or `["partition", "crash"]`.
fn fault_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FaultKind>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let joined = match Raw::deserialize(d)? {
        Raw::One(s) => s,
        Raw::Many(v) if v.is_empty() => "none".into(),
        Raw::Many(v) => v.join(","),
    };
    FaultKind::parse_list(&joined).map_err(serde::de::Error::custom)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksSection {
    pub max_examples: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_read_threshold: Option<f64>,
    pub sessions_fail: bool,
}

impl Default for ChecksSection {
    fn default() -> Self {
        ChecksSection {
            max_examples: 10,
            stale_read_threshold: None,
            sessions_fail: false,
        }
    }
}

impl TestConfig {
    /// The workload generator's config, checked.
    pub fn workload_config(&self) -> Result<workloads::WorkloadConfig, ConfigError> {
        let bad = |e: workloads::WorkloadError| ConfigError(format!("workload: {e}"));
        let cfg = workloads::WorkloadConfig {
            kind: self.workload.kind.parse().map_err(bad)?,
            keys: self.workload.keys,
            zipf_exponent: self.workload.zipf,
            uniform_share: self.workload.uniform_share,
            mix: self.workload.mix.parse().map_err(bad)?,
            blind_writes: self.workload.blind_writes,
            lifecycle: self.lifecycle_config(),
            seed: self.test.seed,
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    /// The key lifecycles, off when `lifecycle_every` is zero. Rewrites
    /// follow the node's `gc_grace` unless set: a deleted key written again
    /// just after its tombstone may have been purged is the case a purge
    /// bug shows on (a 10-day grace leaves them outside the test).
    fn lifecycle_config(&self) -> Option<workloads::LifecycleConfig> {
        let w = &self.workload;
        (!w.lifecycle_every.get().is_zero()).then(|| workloads::LifecycleConfig {
            every: w.lifecycle_every.get(),
            delete_after: w.delete_after.get(),
            rewrite_after: w
                .rewrite_after
                .map(HumanDuration::get)
                .or_else(|| self.node_duration("tombstones", "gc_grace")),
        })
    }

    /// The checkers' config.
    pub fn check_config(&self) -> Result<checkers::CheckConfig, ConfigError> {
        let conflict = match self.test.conflict.as_str() {
            "lww" => checkers::Conflict::Lww,
            "dvv" => checkers::Conflict::Dvv,
            other => {
                return Err(ConfigError(format!(
                    "unknown conflict mode {other:?}; choose lww or dvv"
                )));
            }
        };
        Ok(checkers::CheckConfig {
            conflict,
            max_examples: self.checks.max_examples,
            stale_read_threshold: self.checks.stale_read_threshold,
            sessions_fail: self.checks.sessions_fail,
            // The node answers 503 rather than use sloppy quorums
            // (docs/node-api.md), so R + W > N means strict overlap.
            quorum: Some(checkers::Quorum {
                n: self.test.rf,
                r: self.test.r,
                w: self.test.w,
            }),
            crash_loss_window_ns: self.crash_loss_window(),
        })
    }

    /// How long after acknowledging a write a kill -9 may still take it off
    /// a node's disk, from `[node.storage]` (docs/node-api.md; the node's
    /// default is `fsync = "interval"` every 100 ms). Twice the interval
    /// covers a flush that was under way at the crash, and a second more a
    /// slow fsync on a loaded disk; "never" may lose anything.
    fn crash_loss_window(&self) -> Option<u64> {
        let storage = self.node.get("storage").and_then(toml::Value::as_table);
        let field = |name: &str| storage.and_then(|s| s.get(name));
        let interval_ms = field("fsync_interval_ms")
            .and_then(toml::Value::as_integer)
            .filter(|n| *n > 0)
            .map_or(100, |n| n as u64);
        // The node validates its own config; a policy this does not know
        // (a user's node may spell its own) is taken as "may lose anything".
        match field("fsync")
            .and_then(toml::Value::as_str)
            .unwrap_or("interval")
        {
            "always" => None,
            "interval" => Some((2 * interval_ms + 1_000) * 1_000_000),
            _ => Some(u64::MAX),
        }
    }

    /// The least time from one wipe's node coming back to the next wipe
    /// (nemesis/schedule.rs): one nemesis interval, for a partition that
    /// hid a replica from a write to end, plus two anti-entropy rounds at
    /// their longest (interval + jitter) to copy what the surviving
    /// replicas hold onto the others. `None` (one wipe per run) when
    /// anti-entropy is off or its timing is not a duration this reads: then
    /// nothing bounds how long a key stays on fewer than rf replicas.
    pub fn wipe_gap(&self) -> Option<Duration> {
        let ae = self
            .node
            .get("anti_entropy")
            .and_then(toml::Value::as_table);
        let field = |name: &str| ae.and_then(|t| t.get(name)).and_then(toml::Value::as_str);
        if field("mode") == Some("off") {
            return None;
        }
        let duration = |name: &str| self.node_duration("anti_entropy", name);
        let round = duration("interval")?.saturating_add(duration("jitter").unwrap_or_default());
        Some(
            self.nemesis
                .interval
                .get()
                .saturating_add(round.saturating_mul(2)),
        )
    }

    /// How long the `link` fault cuts its link: `gc_grace` and half again
    /// (the node's tombstone scan runs every `gc_grace / 2`, so a tombstone
    /// is surely purged by then) plus two nemesis intervals, so a hint held
    /// across the cut outlives the tombstones of a delete made early in it:
    /// a write hinted in the cut's first seconds (the hint window) and
    /// deleted a few seconds later (the workload's lifecycle keys), or
    /// later still when a fault made the delete fail and it was retried.
    /// With the node's own 10-day `gc_grace` (or a value this does not
    /// read) it lasts the whole test.
    pub fn link_cut(&self) -> Duration {
        self.node_duration("tombstones", "gc_grace")
            .map_or(Duration::MAX, |g| {
                g.saturating_add(g / 2)
                    .saturating_add(self.nemesis.interval.get().saturating_mul(2))
            })
    }

    /// `[node.<section>] <key>` as a duration, if the test's node table
    /// (harness defaults included) sets it to one this reads; the node
    /// validates its own config, so anything else is left to it.
    pub fn node_duration(&self, section: &str, key: &str) -> Option<Duration> {
        self.node
            .get(section)?
            .get(key)?
            .as_str()?
            .parse::<HumanDuration>()
            .ok()
            .map(HumanDuration::get)
    }

    /// Every check that needs no I/O. Each error names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.test;
        let err = |s: String| Err(ConfigError(s));
        if t.nodes == 0 {
            return err("nodes must be at least 1".into());
        }
        let loss = self.nemesis.loss;
        if !(0.0..=1.0).contains(&loss) {
            return err(format!(
                "loss ({loss}) must be a probability between 0 and 1"
            ));
        }
        if t.rf == 0 {
            return err("rf must be at least 1".into());
        }
        if t.nodes < t.rf {
            return err(format!(
                "nodes ({}) < rf ({}): every key needs rf distinct replicas; add nodes or lower --rf",
                t.nodes, t.rf
            ));
        }
        for (name, q) in [("r", t.r), ("w", t.w)] {
            if q == 0 || q > t.rf {
                return err(format!(
                    "{name} ({q}) must be between 1 and rf ({}); a quorum cannot exceed the replicas of a key",
                    t.rf
                ));
            }
        }
        if t.concurrency == 0 {
            return err("concurrency must be at least 1".into());
        }
        if t.time_limit.get().is_zero() {
            return err("time_limit must be more than 0s".into());
        }
        if t.op_timeout.get().is_zero() {
            return err("op_timeout must be more than 0s".into());
        }
        if let Some(rate) = t.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return err(format!("rate ({rate}) must be a positive number of ops/s"));
        }
        if t.name.is_empty() || t.name.contains('/') || t.name.starts_with('.') {
            return err(format!(
                "test name {:?} must be non-empty, without '/', not starting with '.'",
                t.name
            ));
        }
        self.check_config()?;
        self.workload_config()?;
        let n = &self.nemesis;
        let downs = [FaultKind::Crash, FaultKind::Pause, FaultKind::Wipe];
        if n.faults.iter().any(|f| downs.contains(f)) && (n.max_down == 0 || n.max_down > t.nodes) {
            return err(format!(
                "max_down ({}) must be between 1 and nodes ({}) when crash, pause or wipe is on",
                n.max_down, t.nodes
            ));
        }
        if !n.faults.is_empty() && n.interval.get().is_zero() {
            return err("nemesis interval must be more than 0s".into());
        }
        self.validate_deploy()
    }

    /// The config file the nodes get: `[node]` with the harness's cluster
    /// settings written into `[cluster]`.
    pub fn node_config(&self) -> toml::Table {
        let mut node = self.node.clone();
        let cluster = node
            .entry("cluster")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !cluster.is_table() {
            *cluster = toml::Value::Table(toml::Table::new());
        }
        if let toml::Value::Table(c) = cluster {
            c.insert("rf".into(), i64::from(self.test.rf).into());
            c.insert("r".into(), i64::from(self.test.r).into());
            c.insert("w".into(), i64::from(self.test.w).into());
            c.insert("conflict".into(), self.test.conflict.clone().into());
        }
        node
    }
}

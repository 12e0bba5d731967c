//! The node's TOML configuration (`--config FILE`), with the tables and
//! defaults that docs/node-api.md promises.
//!
//! Parsing goes through `serde_path_to_error` so that every mistake comes out
//! as one line naming the field (`cluster.rf: invalid type ...`): the binary
//! prints it and exits 2.

use crate::duration;
use crate::types::ConflictMode;
use serde::Deserialize;
use std::time::Duration;

/// The whole config file. Every field has a default, so an empty file (or no
/// `--config`) is a valid three-replica LWW cluster.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub cluster: ClusterConfig,
    pub storage: StorageConfig,
    pub tombstones: TombstoneConfig,
    pub read_repair: ReadRepairConfig,
    pub hints: HintsConfig,
    pub anti_entropy: AntiEntropyConfig,
}

/// `[cluster]`: placement, quorums, conflict mode.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Replicas per key.
    pub rf: usize,
    /// Default read quorum.
    pub r: usize,
    /// Default write quorum.
    pub w: usize,
    pub conflict: ConflictMode,
    /// Virtual nodes per member on the hash ring.
    pub vnodes: usize,
    /// How long a coordinator waits for R/W replicas before answering 503.
    #[serde(deserialize_with = "duration::deserialize")]
    pub request_timeout: Duration,
    /// How far ahead of this node's clock a received HLC reading (a peer's
    /// frame, a client's LWW context) may be; further ones are refused and
    /// counted, so one bad clock cannot drag the cluster's clocks forward.
    /// Set well above the skew the harness injects, so skew tests keep
    /// testing LWW instead of turning into partitions.
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_clock_offset: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            rf: 3,
            r: 2,
            w: 2,
            conflict: ConflictMode::Lww,
            vnodes: 64,
            request_timeout: Duration::from_secs(1),
            max_clock_offset: crate::clock::DEFAULT_MAX_OFFSET,
        }
    }
}

/// When a commit is forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Acknowledge a write only after a durable (fsynced) commit.
    Always,
    /// Commit in memory; force to disk every `fsync_interval_ms`.
    Interval,
    /// Never force on the write path (see docs/architecture.md for the
    /// background checkpoint that bounds memory).
    Never,
}

/// `[storage]`: durability policy.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub fsync: FsyncPolicy,
    pub fsync_interval_ms: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            fsync: FsyncPolicy::Interval,
            fsync_interval_ms: 100,
        }
    }
}

/// `[tombstones]`: how long deletes are remembered.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TombstoneConfig {
    /// A tombstone older than this (by this node's clock) is purged.
    #[serde(deserialize_with = "duration::deserialize")]
    pub gc_grace: Duration,
}

impl Default for TombstoneConfig {
    fn default() -> Self {
        TombstoneConfig {
            gc_grace: Duration::from_secs(10 * 86_400),
        }
    }
}

/// When a coordinator repairs stale replicas it read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadRepairMode {
    /// Never.
    Off,
    /// The client's answer waits until the stale replicas that answered
    /// have been repaired (Cassandra's BLOCKING).
    Blocking,
    /// Answer first, repair after.
    Async,
}

impl ReadRepairMode {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ReadRepairMode::Off => "off",
            ReadRepairMode::Blocking => "blocking",
            ReadRepairMode::Async => "async",
        }
    }
}

/// `[read_repair]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadRepairConfig {
    pub mode: ReadRepairMode,
    /// Share of reads that repair, in [0, 1] (probabilistic read repair).
    pub chance: f64,
}

impl Default for ReadRepairConfig {
    fn default() -> Self {
        ReadRepairConfig {
            mode: ReadRepairMode::Blocking,
            chance: 1.0,
        }
    }
}

/// `[hints]`: hinted handoff.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HintsConfig {
    pub enabled: bool,
    /// No hints are stored for a replica down longer than this, and stored
    /// hints older than this are dropped (Cassandra's max_hint_window).
    #[serde(deserialize_with = "duration::deserialize")]
    pub window: Duration,
    /// Most hints kept per target replica; more are dropped (counted).
    pub max_per_target: u64,
    /// Replay speed per target, in hints per second.
    pub replay_rate: u64,
}

impl Default for HintsConfig {
    fn default() -> Self {
        HintsConfig {
            enabled: true,
            window: Duration::from_secs(3 * 3600),
            max_per_target: 100_000,
            replay_rate: 1_000,
        }
    }
}

/// How replicas reconcile in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AntiEntropyMode {
    /// Merkle trees: compare top-down, move only differing entries.
    Merkle,
    /// Move every entry of every shared range (the naive baseline).
    Full,
    Off,
}

/// `[anti_entropy]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AntiEntropyConfig {
    pub mode: AntiEntropyMode,
    /// Time between rounds (plus jitter).
    #[serde(deserialize_with = "duration::deserialize")]
    pub interval: Duration,
    /// Random extra delay added to each interval, up to this.
    #[serde(deserialize_with = "duration::deserialize")]
    pub jitter: Duration,
    /// Peers reconciled at once.
    pub max_concurrent: usize,
    /// Limit on all repair streaming of one round, bytes/s; 0 = unlimited.
    pub rate_bytes_per_sec: u64,
    /// Leaves per tree = 2^leaf_bits.
    pub leaf_bits: u8,
}

impl Default for AntiEntropyConfig {
    fn default() -> Self {
        AntiEntropyConfig {
            mode: AntiEntropyMode::Merkle,
            interval: Duration::from_secs(600),
            jitter: Duration::from_secs(60),
            max_concurrent: 1,
            rate_bytes_per_sec: 0,
            leaf_bits: crate::merkle::DEFAULT_LEAF_BITS,
        }
    }
}

/// A config mistake, already phrased as the one line the user sees.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Parses and validates config text. `members` is the cluster size
    /// (this node plus its `--peer`s), needed to check `rf`.
    pub fn parse(text: &str, members: usize) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError(format!("config is not valid TOML: {}", one_line(&e))))?;
        let config: Config = serde_path_to_error::deserialize(table).map_err(|e| {
            let path = e.path().to_string();
            ConfigError(format!("config field {path}: {}", one_line(e.inner())))
        })?;
        config.validate(members)?;
        Ok(config)
    }

    fn validate(&self, members: usize) -> Result<(), ConfigError> {
        let c = &self.cluster;
        let fail = |msg: String| Err(ConfigError(msg));
        if c.rf == 0 {
            return fail("config field cluster.rf must be at least 1".into());
        }
        if c.rf > members {
            return fail(format!(
                "config field cluster.rf = {} exceeds the {members} cluster members",
                c.rf
            ));
        }
        if !(1..=c.rf).contains(&c.r) {
            return fail(format!(
                "config field cluster.r = {} must be in 1..={}",
                c.r, c.rf
            ));
        }
        if !(1..=c.rf).contains(&c.w) {
            return fail(format!(
                "config field cluster.w = {} must be in 1..={}",
                c.w, c.rf
            ));
        }
        if c.vnodes == 0 || c.vnodes > 4096 {
            return fail(format!(
                "config field cluster.vnodes = {} must be in 1..=4096",
                c.vnodes
            ));
        }
        if c.request_timeout.is_zero() {
            return fail("config field cluster.request_timeout must be positive".into());
        }
        if c.max_clock_offset.is_zero() {
            return fail("config field cluster.max_clock_offset must be positive".into());
        }
        if self.anti_entropy.leaf_bits > crate::merkle::MAX_LEAF_BITS {
            return fail(format!(
                "config field anti_entropy.leaf_bits = {} exceeds {}",
                self.anti_entropy.leaf_bits,
                crate::merkle::MAX_LEAF_BITS
            ));
        }
        if self.anti_entropy.interval.is_zero() {
            return fail("config field anti_entropy.interval must be positive".into());
        }
        let chance = self.read_repair.chance;
        if !(0.0..=1.0).contains(&chance) {
            return fail(format!(
                "config field read_repair.chance = {chance} must be in [0, 1]"
            ));
        }
        if self.hints.replay_rate == 0 {
            return fail("config field hints.replay_rate must be at least 1".into());
        }
        if self.storage.fsync_interval_ms == 0 {
            return fail("config field storage.fsync_interval_ms must be at least 1".into());
        }
        Ok(())
    }

    /// Operator warnings about settings that are legal but unsafe.
    pub fn safety_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let ae = &self.anti_entropy;
        if ae.mode != AntiEntropyMode::Off && self.tombstones.gc_grace < ae.interval * 2 {
            warnings.push(format!(
                "tombstones.gc_grace ({:?}) is shorter than twice anti_entropy.interval ({:?}): \
                 a replica can miss a delete for longer than its tombstone lives",
                self.tombstones.gc_grace, ae.interval
            ));
        }
        if self.hints.enabled && self.hints.window > self.tombstones.gc_grace {
            warnings.push(format!(
                "hints.window ({:?}) exceeds tombstones.gc_grace ({:?}): a hint replayed after its \
                 key's tombstone was purged can resurrect deleted data",
                self.hints.window, self.tombstones.gc_grace
            ));
        }
        warnings
    }
}

fn one_line(err: &dyn std::fmt::Display) -> String {
    err.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gets_documented_defaults() {
        let config = Config::parse("", 3).unwrap();
        assert_eq!(config.cluster.rf, 3);
        assert_eq!(config.cluster.conflict, ConflictMode::Lww);
        assert_eq!(config.storage.fsync, FsyncPolicy::Interval);
        assert_eq!(config.tombstones.gc_grace, Duration::from_secs(864_000));
    }

    #[test]
    fn errors_name_the_field_on_one_line() {
        let err = Config::parse("[cluster]\nrf = \"three\"\n", 3)
            .unwrap_err()
            .0;
        assert!(err.contains("cluster.rf"), "{err}");
        assert!(!err.contains('\n'));
        let err = Config::parse("[cluster]\nbogus = 1\n", 3).unwrap_err().0;
        assert!(err.contains("bogus"), "{err}");
        let err = Config::parse("[tombstones]\ngc_grace = \"5w\"\n", 3)
            .unwrap_err()
            .0;
        assert!(err.contains("tombstones.gc_grace"), "{err}");
        let err = Config::parse("[cluster]\nconflict = \"crdt\"\n", 3)
            .unwrap_err()
            .0;
        assert!(err.contains("cluster.conflict"), "{err}");
    }

    #[test]
    fn quorums_must_fit_the_replication_factor() {
        assert!(Config::parse("[cluster]\nrf = 3\nr = 4\n", 3).is_err());
        assert!(Config::parse("[cluster]\nw = 0\n", 3).is_err());
        assert!(Config::parse("[cluster]\nrf = 4\n", 3).is_err());
    }

    #[test]
    fn anti_entropy_table_parses_and_validates() {
        let config = Config::parse(
            "[anti_entropy]\nmode = \"full\"\ninterval = \"1m\"\n[hints]\n",
            3,
        )
        .unwrap();
        assert_eq!(config.anti_entropy.mode, AntiEntropyMode::Full);
        assert!(
            Config::parse("[anti_entropy]\nleaf_bits = 99\n", 3)
                .unwrap_err()
                .0
                .contains("leaf_bits")
        );
    }

    #[test]
    fn repair_tables_parse_and_validate() {
        let text = "[read_repair]\nmode = \"async\"\nchance = 0.5\n[hints]\nwindow = \"1m\"\nmax_per_target = 10\n";
        let config = Config::parse(text, 3).unwrap();
        assert_eq!(config.read_repair.mode, ReadRepairMode::Async);
        assert_eq!(config.hints.window, Duration::from_secs(60));
        assert!(
            Config::parse("[read_repair]\nchance = 1.5\n", 3)
                .unwrap_err()
                .0
                .contains("read_repair.chance")
        );
        assert!(
            Config::parse("[read_repair]\nmode = \"sometimes\"\n", 3)
                .unwrap_err()
                .0
                .contains("read_repair.mode")
        );
        let risky = Config::parse(
            "[hints]\nwindow = \"2d\"\n[tombstones]\ngc_grace = \"1d\"\n",
            3,
        )
        .unwrap();
        assert_eq!(
            risky.safety_warnings().len(),
            1,
            "{:?}",
            risky.safety_warnings()
        );
        let short = Config::parse(
            "[tombstones]\ngc_grace = \"5m\"\n[hints]\nwindow = \"1m\"\n",
            3,
        )
        .unwrap();
        assert!(short.safety_warnings()[0].contains("anti_entropy.interval"));
    }
}

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
    /// Reserved for the repair issue; accepted so configs stay forward
    /// compatible, and a warning is logged if set (not implemented yet).
    pub read_repair: toml::Table,
    /// Reserved for the repair issue (see `read_repair`).
    pub hints: toml::Table,
    /// Reserved for the repair issue (see `read_repair`).
    pub anti_entropy: toml::Table,
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
        if self.storage.fsync_interval_ms == 0 {
            return fail("config field storage.fsync_interval_ms must be at least 1".into());
        }
        Ok(())
    }

    /// Names of reserved tables that were filled in but are not implemented
    /// in this build, so the binary can warn instead of silently ignoring.
    pub fn unimplemented_tables(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        for (name, table) in [
            ("read_repair", &self.read_repair),
            ("hints", &self.hints),
            ("anti_entropy", &self.anti_entropy),
        ] {
            if !table.is_empty() {
                names.push(name);
            }
        }
        names
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
    fn reserved_repair_tables_parse() {
        let config = Config::parse("[anti_entropy]\nmode = \"merkle\"\n[hints]\n", 3).unwrap();
        assert_eq!(config.unimplemented_tables(), vec!["anti_entropy"]);
    }
}

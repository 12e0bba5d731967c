//! What the checkers return: verdicts, counts and example anomalies.
//!
//! These types are serialized as the run's `results.json` (the harness adds its
//! own run metadata) and read back by the reports crate, so they are plain
//! data with stable field names.

use crate::history::Event;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the store under test resolves concurrent writes; decides which
/// lost-update and resurrection definitions apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conflict {
    /// Last writer wins: one value per key, ordered by the store's clock.
    Lww,
    /// Dotted version vectors: concurrent writes become siblings; a write or
    /// delete supersedes exactly the values its causal context observed.
    Dvv,
}

/// Knobs of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckConfig {
    pub conflict: Conflict,
    /// How many example anomalies to keep per checker and anomaly kind.
    pub max_examples: usize,
    /// Staleness fails only when the stale-read rate (0..=1) exceeds this.
    pub stale_read_threshold: Option<f64>,
    /// Whether session-guarantee violations make the run invalid.
    pub sessions_fail: bool,
    /// The cluster's quorums, when known. With `r + w > n` (and a store
    /// that answers 503 rather than use sloppy quorums) every read overlaps
    /// every acknowledged write's replicas, so a read that misses a write
    /// that completed before it began is an anomaly, not staleness.
    #[serde(default)]
    pub quorum: Option<Quorum>,
    /// How long after it was acknowledged a crash may still take a write
    /// from a replica's disk (nanoseconds): `None` when the store fsyncs
    /// before acknowledging, [`u64::MAX`] when it may lose any write. Reads
    /// that miss a write a crash of one of its replicas could have lost are
    /// exempt from the quorum-overlap rules.
    #[serde(default)]
    pub crash_loss_window_ns: Option<u64>,
}

/// Replicas per key and the read and write quorums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quorum {
    pub n: u32,
    pub r: u32,
    pub w: u32,
}

impl Quorum {
    /// Whether every read quorum meets every write quorum.
    pub fn overlaps(&self) -> bool {
        self.r + self.w > self.n
    }
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            conflict: Conflict::Lww,
            max_examples: 10,
            stale_read_threshold: None,
            sessions_fail: false,
            quorum: None,
            crash_loss_window_ns: None,
        }
    }
}

/// A verdict. Serialized as `true`, `false` or `"unknown"` (as Jepsen does),
/// so a glance at results.json reads naturally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    True,
    False,
    /// The check could not decide, e.g. there was no final state to judge.
    Unknown,
}

impl Validity {
    /// False if any is False, else Unknown if any is Unknown, else True.
    pub fn combine(all: impl IntoIterator<Item = Validity>) -> Validity {
        let mut out = Validity::True;
        for v in all {
            match v {
                Validity::False => return Validity::False,
                Validity::Unknown => out = Validity::Unknown,
                Validity::True => {}
            }
        }
        out
    }
}

impl Serialize for Validity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::True => s.serialize_bool(true),
            Validity::False => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(Validity::True),
            Raw::Bool(false) => Ok(Validity::False),
            Raw::Str(s) if s == "unknown" => Ok(Validity::Unknown),
            Raw::Str(s) => Err(serde::de::Error::custom(format!(
                "valid must be true, false or \"unknown\", got {s:?}"
            ))),
        }
    }
}

/// One example of something a checker found, with every op involved (each
/// op's invoke and completion events, in history order) so a report can draw
/// its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// E.g. `lost-write`, `resurrected-value`, `divergent-key`, `stale-read`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// One or two sentences: what happened and why it is an anomaly.
    pub explanation: String,
    pub ops: Vec<Event>,
}

/// One checker's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `convergence`, `lost-updates`, `resurrection`, `phantoms`,
    /// `staleness`, `sessions` or `perf`.
    pub checker: String,
    pub valid: Validity,
    /// Every count the checker keeps (anomalies by kind, ops examined...).
    pub counts: BTreeMap<String, u64>,
    /// Up to `max_examples` examples per anomaly kind.
    pub anomalies: Vec<Anomaly>,
    /// Checker-specific figures: percentiles, series, fault windows...
    /// Free-form JSON here, since every checker has its own; a checker
    /// with a [`CheckDetails`] type builds them from it, and readers read
    /// them back as it ([`Results::details`], [`CheckResult::details_as`]).
    pub details: serde_json::Value,
}

/// The typed `details` of one checker: which checker writes them and their
/// shape, so a reader asks for the type instead of looking up JSON keys.
/// The checker serializes the type into [`CheckResult::details`] (a
/// `serde_json::Value`, whose objects sort their keys, so the field order
/// of the type does not reach results.json).
pub trait CheckDetails: Serialize + DeserializeOwned {
    /// The checker whose details these are ([`CheckResult::checker`]).
    const CHECKER: &'static str;
}

impl CheckResult {
    /// The details read as `T`; an error names what does not fit.
    pub fn details_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.details)
    }
}

/// Every checker's verdict, and the overall one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub valid: Validity,
    pub checks: Vec<CheckResult>,
}

impl Results {
    /// The result of the named checker, if it ran.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.checker == name)
    }

    /// The typed details of `D`'s checker: `None` when that checker did
    /// not run, an error when its details do not read as `D` (results
    /// written by another version).
    pub fn details<D: CheckDetails>(&self) -> Option<Result<D, serde_json::Error>> {
        self.check(D::CHECKER).map(CheckResult::details_as)
    }

    /// The anomalies of the invalid checks, in report order.
    pub fn failing_anomalies(&self) -> impl Iterator<Item = (&CheckResult, &Anomaly)> {
        self.checks
            .iter()
            .filter(|c| c.valid == Validity::False)
            .flat_map(|c| c.anomalies.iter().map(move |a| (c, a)))
    }

    /// Every `checker/kind` an invalid check reported, once each, in report
    /// order: what a run was caught by.
    pub fn failing_kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = Vec::new();
        for (c, a) in self.failing_anomalies() {
            let kind = format!("{}/{}", c.checker, a.kind);
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_serializes_as_jepsen_does() {
        let all = [Validity::True, Validity::False, Validity::Unknown];
        let text = serde_json::to_string(&all).unwrap();
        assert_eq!(text, r#"[true,false,"unknown"]"#);
        let back: Vec<Validity> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, all);
        assert!(serde_json::from_str::<Validity>("\"maybe\"").is_err());
    }

    #[test]
    fn overall_validity_is_false_then_unknown_then_true() {
        use Validity::*;
        assert_eq!(Validity::combine([True, Unknown, False]), False);
        assert_eq!(Validity::combine([True, Unknown]), Unknown);
        assert_eq!(Validity::combine([True, True]), True);
        assert_eq!(Validity::combine([]), True);
    }
}

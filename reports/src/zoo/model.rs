//! What `converge zoo` measured, as the harness hands it over: one
//! [`BugSummary`] per zoo bug (and one for the clean node), each with its
//! runs. Plain data; the harness computes the rates and intervals.

use serde::{Deserialize, Serialize};

/// A whole zoo: every bug of the node's zoo, run on the same test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZooReport {
    /// The zoo's name (its directory under `store/zoos/`).
    pub name: String,
    /// The test every run used, as one line (name, time limit, faults).
    pub test: String,
    /// Seeds per bug.
    pub seeds: u32,
    /// The command that reruns or resumes this zoo.
    pub command: String,
    /// When the report was written (RFC 3339).
    pub generated_at: String,
    /// The clean node first, then the bugs in the order they were run.
    pub bugs: Vec<BugSummary>,
}

impl ZooReport {
    /// Clean-node runs that were not valid.
    pub fn false_alarms(&self) -> usize {
        self.bugs
            .iter()
            .filter(|b| b.clean)
            .map(|b| b.runs.iter().filter(|r| r.verdict != "valid").count())
            .sum()
    }
}

/// One bug (or the clean node) over every seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BugSummary {
    /// The node's `--zoo-bug` name; "clean" for the reference node.
    pub bug: String,
    /// The reference node: every invalid run is a false alarm.
    pub clean: bool,
    /// Runs whose verdict named an anomaly.
    pub detected: usize,
    /// Runs that produced a verdict (valid or invalid).
    pub judged: usize,
    /// `detected / judged`, with its interval.
    pub rate: DetectionRate,
    /// Which checker and kind caught it, most runs first.
    pub caught_by: Vec<CaughtBy>,
    /// Time to detection over the detected runs: the test time of the
    /// earliest op that is part of a reported anomaly.
    pub ttd_median_ms: Option<u64>,
    /// The slowest detection.
    pub ttd_max_ms: Option<u64>,
    /// Every run, in seed order.
    pub runs: Vec<ZooRun>,
}

/// A detection rate with its exact (Clopper–Pearson) 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectionRate {
    /// The observed share, 0 to 1.
    pub rate: f64,
    /// Lower bound of the 95% interval.
    pub low: f64,
    /// Upper bound of the 95% interval.
    pub high: f64,
}

/// A `checker/kind` and in how many runs it was reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaughtBy {
    /// `checker/kind`.
    pub kind: String,
    /// Runs that reported it.
    pub runs: usize,
}

/// One run of one bug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZooRun {
    /// The run's seed.
    pub seed: u64,
    /// The run directory, relative to the store.
    pub run_dir: String,
    /// "valid", "invalid", "unknown", or "error" (no results.json).
    pub verdict: String,
    /// Every `checker/kind` the run reported.
    pub kinds: Vec<String>,
    /// Test time of the earliest op that is part of a reported anomaly.
    pub first_anomaly_ms: Option<u64>,
}

//! The sweep report's data: one [`ConfigSummary`] per configuration of the
//! matrix, each aggregating its seeds' runs, plus the safety analysis.
//!
//! The harness fills these in (it runs the cells and does the statistics);
//! this crate only renders them. The same structs are serialized as
//! `sweep.json`, so the JSON report and the HTML one cannot disagree.

use serde::{Deserialize, Serialize};

/// A whole sweep: the matrix, every configuration, and the highlights.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SweepReport {
    /// The sweep's name (the matrix file's `name`, or its file stem).
    pub name: String,
    /// The matrix file the sweep was run from.
    pub matrix_file: String,
    /// The command that reruns (or resumes) the sweep.
    pub command: String,
    /// RFC 3339 time the report was written.
    pub generated_at: String,
    /// The axes, in matrix order: name and the labels of its values.
    pub axes: Vec<AxisSummary>,
    /// Seeds run per configuration.
    pub seeds: Vec<u64>,
    /// The points (ms since the newer write completed) at which the
    /// t-visibility fresh-read share is reported.
    pub t_visibility_points_ms: Vec<u64>,
    /// One entry per configuration (cell), in matrix order.
    pub configs: Vec<ConfigSummary>,
    /// Index into `configs` of the safest configuration, if any ran.
    pub safest: Option<usize>,
    /// Index into `configs` of the cheapest configuration that is safe.
    pub cheapest_safe: Option<usize>,
    /// How "safest" and "cheapest safe" were decided, in one sentence each.
    pub ranking_rules: Vec<String>,
}

/// One axis of the matrix.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AxisSummary {
    /// The field path (`read_repair.mode`) or preset axis name.
    pub name: String,
    /// The labels of its values, in order.
    pub values: Vec<String>,
}

/// One configuration (a cell of the matrix) over all its seeds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// The cell's test name in the store (`store/<id>/<timestamp>/`).
    pub id: String,
    /// A short human label: the axis values joined.
    pub label: String,
    /// Axis name → value label, in axis order.
    pub settings: Vec<(String, String)>,
    /// How many seeds were valid, found anomalies, or stayed undecided.
    pub verdicts: VerdictCounts,
    /// Acknowledged writes lost, summed over seeds.
    pub lost_updates: u64,
    /// Deleted values that came back, summed over seeds.
    pub resurrections: u64,
    /// Keys the replicas still disagreed on at the convergence deadline,
    /// summed over seeds.
    pub divergent_keys: u64,
    /// Time from the final heal until replicas agreed.
    pub convergence: ConvergenceStats,
    /// Mean share of stale reads over seeds (0..=1).
    pub stale_read_rate: Option<f64>,
    /// Share of fresh reads at each of the report's t-visibility points,
    /// mean over seeds; `None` where no read fell near that point.
    pub t_visibility: Vec<Option<f64>>,
    /// Repair work per 1,000 client ops, mean over seeds.
    pub repair_cost: RepairCost,
    /// Worst op type's p99 latency of successful ops, mean over seeds (ms).
    pub p99_latency_ms: Option<f64>,
    /// The tombstone and hint-window rules with the measured numbers.
    pub safety: SafetyAnalysis,
    /// Every seed valid and no safety rule broken.
    pub safe: bool,
    /// Every run of this configuration, one per seed.
    pub runs: Vec<RunSummary>,
}

/// Verdicts over seeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictCounts {
    /// Runs whose every checker was valid.
    pub valid: u32,
    /// Runs with anomalies.
    pub invalid: u32,
    /// Runs no checker could decide (or that failed to finish).
    pub unknown: u32,
}

/// Convergence time after the final heal over the seeds that converged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConvergenceStats {
    /// Seeds whose replicas agreed before the convergence timeout.
    pub converged_runs: u32,
    /// Seeds run.
    pub runs: u32,
    /// Mean over converged seeds, ms.
    pub mean_ms: Option<f64>,
    /// 95% confidence interval of the mean (Student's t), ms; needs two
    /// converged seeds.
    pub ci95_ms: Option<(f64, f64)>,
    /// The slowest converged seed, ms.
    pub max_ms: Option<f64>,
}

/// Repair work normalised by client load.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RepairCost {
    /// Anti-entropy bytes sent per 1,000 client ops.
    pub anti_entropy_bytes_per_kop: f64,
    /// Replicas written by read repair per 1,000 client ops.
    pub read_repair_writes_per_kop: f64,
    /// Hints replayed per 1,000 client ops.
    pub hints_replayed_per_kop: f64,
}

/// The two configuration rules checked against measured numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SafetyAnalysis {
    /// `tombstones.gc_grace`, seconds.
    pub gc_grace_s: f64,
    /// Longest partition or node outage seen in any seed, seconds.
    pub longest_partition_s: f64,
    /// Slowest convergence after heal in any seed, seconds (the timeout
    /// when a seed never converged).
    pub repair_lag_s: f64,
    /// Largest clock difference between two nodes the nemesis could cause,
    /// seconds (twice the skew: one node ahead, another behind).
    pub clock_skew_budget_s: f64,
    /// `longest_partition_s + repair_lag_s + clock_skew_budget_s`.
    pub required_gc_grace_s: f64,
    /// Whether gc_grace covers the requirement.
    pub tombstone_rule_ok: bool,
    /// Whether hinted handoff is on.
    pub hints_enabled: bool,
    /// `hints.window`, seconds.
    pub hints_window_s: f64,
    /// Hints off, or hints.window ≤ gc_grace.
    pub hints_rule_ok: bool,
    /// One sentence per broken rule, with the numbers that break it.
    pub violations: Vec<String>,
}

/// One run (a cell × seed) as the sweep saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    /// The seed.
    pub seed: u64,
    /// The run directory, relative to the store.
    pub run_dir: String,
    /// `valid`, `invalid` or `unknown`.
    pub verdict: String,
    /// Lost acknowledged writes.
    pub lost_updates: u64,
    /// Resurrected deleted values.
    pub resurrections: u64,
    /// Keys still divergent at the convergence deadline.
    pub divergent_keys: u64,
    /// Convergence time after heal, ms; `None` if it never converged.
    pub convergence_ms: Option<f64>,
    /// Stale reads / reads.
    pub stale_read_rate: Option<f64>,
    /// Client ops completed (ok, fail and info).
    pub client_ops: u64,
    /// Anti-entropy bytes sent, all nodes.
    pub anti_entropy_bytes: f64,
    /// Replicas written by read repair, all nodes.
    pub read_repair_writes: f64,
    /// Hints replayed, all nodes.
    pub hints_replayed: f64,
    /// Worst op type's p99 latency of successful ops, ms.
    pub p99_latency_ms: Option<f64>,
    /// Longest partition or outage, seconds.
    pub longest_partition_s: f64,
    /// Fresh-read share at each t-visibility point.
    pub t_visibility: Vec<Option<f64>>,
}

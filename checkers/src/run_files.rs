//! The file names of a run directory, named once: the harness writes these
//! files, the checkers, reports and sweep read them, and each of them takes
//! the name from here. (The store layout: docs/history.md and README.)

/// The effective test config, seed included (TOML).
pub const CONFIG: &str = "config.toml";
/// The config file every node is started with (TOML).
pub const NODE_CONFIG: &str = "node.toml";
/// The history of client ops and nemesis events (JSON lines).
pub const HISTORY: &str = "history.jsonl";
/// What every replica held after the convergence wait (JSON lines).
pub const FINAL_STATE: &str = "final-state.jsonl";
/// Each node's metrics, sampled every second (JSON lines).
pub const METRICS: &str = "metrics.jsonl";
/// The verdicts and the run's metadata (JSON).
pub const RESULTS: &str = "results.json";
/// The rendered report (HTML).
pub const REPORT: &str = "report.html";

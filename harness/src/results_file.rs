//! results.json: the checkers' [`Results`] plus the run's metadata (seed,
//! reproduce command, effective config, timings), written by `converge run`
//! and rewritten by `converge check`.

use checkers::Results;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The whole file: `{"valid": ..., "checks": [...], "run": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    #[serde(flatten)]
    pub results: Results,
    pub run: RunMeta,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunMeta {
    pub name: String,
    pub seed: u64,
    /// A command that replays this run's op stream and fault schedule.
    pub reproduce: String,
    /// `converge run` or `converge check`.
    pub checked_by: String,
    /// RFC 3339, wall clock.
    #[serde(default)]
    pub started_at: String,
    /// Phase timings in seconds.
    #[serde(default)]
    pub timings: Timings,
    /// Completions by type.
    #[serde(default)]
    pub ops: OpCounts,
    /// Faults that could not be injected or lifted, and teardown problems.
    #[serde(default)]
    pub problems: Vec<String>,
    /// The effective config (config.toml as JSON).
    #[serde(default)]
    pub config: serde_json::Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timings {
    pub setup_s: f64,
    pub workload_s: f64,
    pub heal_s: f64,
    pub convergence_s: f64,
    pub check_s: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpCounts {
    pub ok: u64,
    pub info: u64,
    pub fail: u64,
}

pub fn write(path: &Path, r: &RunResults) -> Result<(), String> {
    let text = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

//! results.json, defined once: the checkers' [`Results`] plus the run's
//! metadata ([`RunMeta`]: seed, reproduce command, effective config,
//! timings). `converge run` writes it, `converge check` rewrites it, and
//! every reader reads it through this module: the harness and the sweep
//! with [`read`] (they wrote the file, so anything off is an error), the
//! reports with [`tolerant`] (a report must render results written by older
//! or newer versions too, and must never fail on a bad file).
//!
//! It lives in the checkers crate, the lowest crate that needs it, because
//! dependencies point one way: harness → reports → checkers.

pub mod tolerant;

use crate::Results;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole file: `{"valid": ..., "checks": [...], "run": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    #[serde(flatten)]
    pub results: Results,
    pub run: RunMeta,
}

/// What the harness knows about the run beyond the verdicts.
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

/// How long each phase of the run took, in seconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timings {
    pub setup_s: f64,
    pub workload_s: f64,
    pub heal_s: f64,
    pub convergence_s: f64,
    pub check_s: f64,
}

/// Client op completions by type.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpCounts {
    pub ok: u64,
    pub info: u64,
    pub fail: u64,
}

/// Why results.json could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsFileError {
    #[error("cannot serialize the results for {}: {source}", path.display())]
    Serialize {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a results file: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl ResultsFileError {
    /// Whether the file does not exist (a run stopped before its checkers).
    pub fn is_missing(&self) -> bool {
        matches!(self, ResultsFileError::Read { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Writes results.json: pretty JSON and a final newline.
pub fn write(path: &Path, r: &RunResults) -> Result<(), ResultsFileError> {
    let text = serde_json::to_string_pretty(r).map_err(|source| ResultsFileError::Serialize {
        path: path.to_path_buf(),
        source,
    })?;
    std::fs::write(path, text + "\n").map_err(|source| ResultsFileError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads results.json strictly: every field the harness writes must be there.
pub fn read(path: &Path) -> Result<RunResults, ResultsFileError> {
    read_as(path)
}

/// Reads the file as `T`: [`RunResults`] or the tolerant reading's model.
fn read_as<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ResultsFileError> {
    let bytes = std::fs::read(path).map_err(|source| ResultsFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ResultsFileError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Validity;

    #[test]
    fn written_results_read_back_and_a_missing_file_says_so() {
        let dir = std::env::temp_dir().join(format!("results-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("results.json");
        let r = RunResults {
            results: Results {
                valid: Validity::Unknown,
                checks: Vec::new(),
            },
            run: RunMeta {
                seed: 7,
                ..Default::default()
            },
        };
        write(&path, &r).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n  \"valid\": \"unknown\",\n  \"checks\": [],\n  \"run\": {"));
        assert!(text.ends_with("}\n"));
        assert_eq!(read(&path).unwrap().run.seed, 7);
        assert!(read(&dir.join("none")).unwrap_err().is_missing());
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(read(&path), Err(ResultsFileError::Parse { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

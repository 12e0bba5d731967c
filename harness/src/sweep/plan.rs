//! Resumable planning: which cell × seed runs the store already holds, and
//! each cell's test file.
//!
//! A run counts as done when its directory under `store/<cell id>/` has a
//! results.json whose seed matches; a run cut short (no results.json) is
//! run again. The cell id changes with the cell's effective test (see
//! [`super::matrix`]), so a finished run always belongs to the same config.

use super::SweepError;
use super::matrix::{Cell, Matrix};
use std::path::{Path, PathBuf};

/// One cell × seed and, if the store has it, its finished run.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub cell: usize,
    pub seed: u64,
    pub done: Option<PathBuf>,
}

/// Where the sweep writes its own files: `store/sweeps/<name>/`.
pub fn sweep_dir(store: &Path, name: &str) -> PathBuf {
    store.join("sweeps").join(name)
}

/// The test file of a cell, as `converge run --config` reads it.
pub fn cell_config_path(store: &Path, matrix: &Matrix, cell: &Cell) -> PathBuf {
    sweep_dir(store, &matrix.name)
        .join("cells")
        .join(format!("{}.toml", cell.id))
}

/// Writes every cell's test file (named after the cell, so the run's
/// `test.name` is the cell id).
pub fn write_cell_configs(store: &Path, matrix: &Matrix) -> Result<(), SweepError> {
    for cell in &matrix.cells {
        let path = cell_config_path(store, matrix, cell);
        let io = |source| SweepError::Write {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut test = cell.test.clone();
        let section = test
            .entry("test")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = section {
            t.insert("name".into(), cell.id.clone().into());
        }
        let text = format!(
            "# Cell of sweep {}: {}\n{}",
            matrix.name,
            cell.label(),
            toml::to_string(&test).map_err(|source| SweepError::Serialize {
                what: format!("cell {}", cell.id),
                source,
            })?
        );
        std::fs::write(&path, text).map_err(io)?;
    }
    Ok(())
}

/// Every cell × seed in matrix order, with the finished ones found.
pub fn plan(store: &Path, matrix: &Matrix) -> Vec<PlannedRun> {
    let mut out = Vec::new();
    for (i, cell) in matrix.cells.iter().enumerate() {
        for &seed in &matrix.seeds {
            out.push(PlannedRun {
                cell: i,
                seed,
                done: finished_run(&store.join(&cell.id), seed),
            });
        }
    }
    out
}

/// The newest run directory of a test with this seed and a results.json.
pub fn finished_run(test_dir: &Path, seed: u64) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(test_dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    // Timestamps sort as text; newest first.
    runs.sort();
    runs.into_iter().rev().find(|run| {
        checkers::results_file::read(&run.join(checkers::run_files::RESULTS))
            .is_ok_and(|r| r.run.seed == seed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_run(dir: &Path, stamp: &str, seed: u64, with_results: bool) -> PathBuf {
        let run = dir.join(stamp);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("history.jsonl"), "").unwrap();
        if with_results {
            let r = serde_json::json!({"valid": true, "checks": [], "run": {"name": "t", "seed": seed, "reproduce": "", "checked_by": "converge run"}});
            std::fs::write(run.join("results.json"), r.to_string()).unwrap();
        }
        run
    }

    #[test]
    fn only_finished_runs_with_the_seed_count() {
        let store = tempfile::tempdir().unwrap();
        let test = store.path().join("cell");
        fake_run(&test, "20261125T100000.000Z", 1, true);
        let newer = fake_run(&test, "20261125T100100.000Z", 1, true);
        fake_run(&test, "20261125T100200.000Z", 2, false);
        assert_eq!(finished_run(&test, 1), Some(newer));
        assert_eq!(finished_run(&test, 2), None);
        assert_eq!(finished_run(&store.path().join("missing"), 1), None);
    }
}

//! What each run of a sweep, a fleet or a merge concluded, one line per
//! cell × seed: the JUnit test cases and the exit code of a CI gate.
//!
//! A fleet, a slice and a merged sweep all answer CI's question the same
//! way — did any run find anomalies (exit 1), did any run end without a
//! verdict or not at all (exit 2) — so they share this one reading of the
//! store. (A whole `converge sweep` on one machine answers a different
//! question, "was any configuration safe?", and keeps its own exit code.)

use super::matrix::Matrix;
use super::plan::PlannedRun;
use checkers::Validity;
use std::path::PathBuf;

/// One cell × seed and what its run concluded.
#[derive(Debug, Clone)]
pub struct RunVerdict {
    /// The cell's label (its axes' values), e.g. `read_repair=off ae=5s`.
    pub cell: String,
    pub seed: u64,
    /// Its run directory; `None` when the store does not hold the run.
    pub dir: Option<PathBuf>,
    /// Its verdict; `None` when it has no readable results.json (or no run).
    pub valid: Option<Validity>,
    /// The failing checkers' `checker/kind`s.
    pub kinds: Vec<String>,
}

impl RunVerdict {
    /// Reads the planned run's results, if the store holds them.
    pub fn of(matrix: &Matrix, p: &PlannedRun) -> RunVerdict {
        let results = p
            .done
            .as_ref()
            .and_then(|d| checkers::results_file::read(&d.join(checkers::run_files::RESULTS)).ok());
        RunVerdict {
            cell: matrix
                .cells
                .get(p.cell)
                .map(|c| c.label())
                .unwrap_or_default(),
            seed: p.seed,
            dir: p.done.clone(),
            kinds: results
                .as_ref()
                .map(|r| r.results.failing_kinds())
                .unwrap_or_default(),
            valid: results.map(|r| r.results.valid),
        }
    }

    /// The run found anomalies.
    pub fn is_invalid(&self) -> bool {
        self.valid == Some(Validity::False)
    }

    /// The run has no verdict: it is missing, cut short, or undecided.
    pub fn is_undecided(&self) -> bool {
        !matches!(self.valid, Some(Validity::True | Validity::False))
    }
}

/// How a set of runs ends a CI job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Every run was valid.
    Valid,
    /// Some run found anomalies, and every run has a verdict.
    Anomalies,
    /// Some run has no verdict (or is missing): the job proved nothing
    /// about it, which must not pass as green.
    Undecided,
}

/// The gate of `runs`: an undecided run outranks anomalies, as `converge
/// run` does (exit 2 over exit 1).
pub fn gate(runs: &[RunVerdict]) -> Gate {
    if runs.iter().any(RunVerdict::is_undecided) {
        Gate::Undecided
    } else if runs.iter().any(RunVerdict::is_invalid) {
        Gate::Anomalies
    } else {
        Gate::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(valid: Option<Validity>, dir: bool) -> RunVerdict {
        RunVerdict {
            cell: "c".into(),
            seed: 1,
            dir: dir.then(|| PathBuf::from("store/c/1")),
            valid,
            kinds: Vec::new(),
        }
    }

    #[test]
    fn a_missing_or_undecided_run_outranks_anomalies() {
        use Validity::*;
        assert_eq!(gate(&[run(Some(True), true)]), Gate::Valid);
        assert_eq!(
            gate(&[run(Some(True), true), run(Some(False), true)]),
            Gate::Anomalies
        );
        assert_eq!(
            gate(&[run(Some(False), true), run(None, false)]),
            Gate::Undecided
        );
        assert_eq!(gate(&[run(Some(Unknown), true)]), Gate::Undecided);
        assert_eq!(gate(&[]), Gate::Valid);
    }
}

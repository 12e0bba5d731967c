//! `converge sweep`: run a matrix of configurations × seeds and compare them
//! side by side, so a repair configuration is validated before production.
//!
//! Every cell × seed is a normal run in the store (`store/<cell id>/...`),
//! made by the same [`crate::run::run`] as `converge run`, one at a time.
//! A sweep is resumable: runs the store already holds are not repeated.
//! The sweep report goes to `store/sweeps/<name>/` (sweep.html, sweep.json,
//! sweep.md), rendered by [`reports::sweep`].
//!
//! - [`matrix`]: the matrix file, expanded into cells.
//! - [`plan`]: which runs are done; each cell's test file.
//! - [`execute`]: runs the missing ones under one progress bar.
//! - [`measure`]: one finished run → its figures.
//! - [`safety`]: gc_grace and hints.window against measured numbers.
//! - [`aggregate`]: seeds → one row per configuration; the highlights.
//! - [`report`]: all of the above for every run → the report's data.
//!
//! Exit codes: 0 the sweep finished and at least one configuration is
//! safe; 1 it finished and none is; 2 bad input, a run that failed to
//! produce a verdict, or an interrupted sweep (rerun to resume).

pub mod aggregate;
pub mod execute;
pub mod matrix;
pub mod measure;
pub mod plan;
pub mod report;
pub mod safety;

use crate::app::{EXIT_ANOMALIES, EXIT_ERROR, EXIT_VALID};
use clap::Args;
use std::path::PathBuf;

/// `converge sweep` flags.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The matrix file: a base test plus axes of field values and seeds
    /// (format: harness/src/sweep/matrix.rs, example:
    /// harness/examples/sweeps/).
    #[arg(long, value_name = "FILE")]
    pub matrix: PathBuf,
    /// Where runs and the sweep report are stored [the base test's
    /// test.store; ./store].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// The converge-node binary [the base test's deploy.node_bin; next to
    /// converge, or built].
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Only list the cells and which runs are already in the store.
    #[arg(long)]
    pub plan: bool,
}

/// Why a sweep stopped. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A bad matrix or base test, found before any run.
    #[error("{0}")]
    Input(String),
    /// A run failed to produce a verdict, or writing the report failed.
    #[error("{0}")]
    Harness(String),
    /// Ctrl-C or SIGTERM.
    #[error("{0}")]
    Interrupted(String),
}

/// Runs `converge sweep` and returns the exit code.
pub fn command(args: &SweepArgs) -> i32 {
    match execute::sweep(args) {
        Ok(None) => EXIT_VALID,
        Ok(Some(outcome)) => {
            println!("sweep report: {}", outcome.html.display());
            println!("summary:      {}", outcome.markdown.display());
            if outcome.any_safe {
                EXIT_VALID
            } else {
                eprintln!("converge: no configuration was safe");
                EXIT_ANOMALIES
            }
        }
        Err(e) => {
            eprintln!("converge: error: {e}");
            EXIT_ERROR
        }
    }
}

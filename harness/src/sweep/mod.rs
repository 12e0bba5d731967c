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
//! - [`shard`]: `--shard I/N`, one slice of the runs; [`merge`]: the
//!   slices' stores gathered into one, checked against the matrix.
//! - [`fleet`]: `converge run --seeds N`, one test over N seeds (a sweep of
//!   one cell).
//! - [`verdicts`]: what each run concluded, for JUnit and CI exit codes.
//!
//! [`execute::sweep`] returns whether any configuration was safe and every
//! run's verdict; the binary turns that into exit codes. A whole sweep on
//! one machine compares configurations: 0 some configuration is safe, 1
//! none is. A slice, a fleet, a merge and `--report-only` are CI gates over
//! runs ([`verdicts::gate`]): 0 every run valid, 1 some run found
//! anomalies, 2 some run has no verdict or is missing. Always 2 for bad
//! input or an interrupted sweep (rerun to resume).

pub mod aggregate;
pub mod execute;
pub mod fleet;
pub mod matrix;
pub mod measure;
pub mod merge;
pub mod plan;
pub mod report;
pub mod safety;
pub mod shard;
pub mod verdicts;

use std::path::PathBuf;

/// What a sweep is asked to do.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// The matrix file.
    pub matrix: PathBuf,
    /// Where runs and the sweep report go; `None`: the base test's store.
    pub store: Option<PathBuf>,
    /// The converge-node binary; `None`: the base test's, or found/built.
    pub node_bin: Option<PathBuf>,
    /// Only list the cells and which runs the store already holds.
    pub plan: bool,
    /// Run only this slice of the cell × seed list (no sweep report: merge
    /// the slices' stores with `converge merge`).
    pub shard: Option<shard::Shard>,
    /// Run nothing: rebuild the report from the runs the store holds, and
    /// name the runs still missing.
    pub report_only: bool,
}

/// Why a sweep stopped. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A bad matrix, option or store, found before any run.
    #[error("{0}")]
    Input(String),
    /// A cell's test does not load as `converge run --config` would.
    #[error("cell {cell}: {source}")]
    Cell {
        cell: String,
        #[source]
        source: crate::config::ConfigError,
    },
    /// A test or matrix the sweep generates does not serialize.
    #[error("cannot write {what}: {source}")]
    Serialize {
        what: String,
        #[source]
        source: toml::ser::Error,
    },
    /// The store is not writable.
    #[error("cannot write {}: {source}; choose a writable store with --store", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A slice's run could not be copied into the merged store.
    #[error("cannot copy {} into {}: {source}", from.display(), into.display())]
    Copy {
        from: PathBuf,
        into: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A run failed to produce a verdict.
    #[error(
        "run of {cell} seed {seed} failed: {source}; fix it and rerun the same command to resume"
    )]
    Run {
        cell: String,
        seed: u64,
        #[source]
        source: Box<crate::run::RunError>,
    },
    /// A finished run's files could not be measured.
    #[error("{cell}: {source}")]
    Measure {
        cell: String,
        #[source]
        source: measure::MeasureError,
    },
    #[error("cannot write the sweep report: {0}")]
    Report(#[source] reports::ReportError),
    /// The async runtime or the signal watch could not start.
    #[error("cannot {action}: {source}")]
    Setup {
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Ctrl-C or SIGTERM.
    #[error("{0}")]
    Interrupted(String),
}

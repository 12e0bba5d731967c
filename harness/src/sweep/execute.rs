//! Runs a sweep: validates every cell before starting, runs the missing
//! cell × seed runs one at a time under a progress bar with an ETA, then
//! measures every run, aggregates and writes the sweep report.
//!
//! One run at a time because runs share the machine: two clusters at once
//! would skew each other's latencies, timeouts and convergence times, the
//! very numbers the sweep compares.
//!
//! The sweep's bar (runs done, elapsed, ETA) stays on screen for the whole
//! sweep; each run's own live line (see [`crate::output::progress`]) is
//! drawn under it through one [`MultiProgress`]. Like every indicatif bar
//! they hide themselves when stderr is not a terminal, so a one-line status
//! per run goes to stderr for logs instead.

use super::matrix::{self, Matrix};
use super::plan::{self, PlannedRun};
use super::verdicts::RunVerdict;
use super::{SweepError, SweepOptions};
use crate::config::TestConfig;
use crate::run::RunDirSlot;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A finished sweep (or slice): its report and what its runs found.
pub struct SweepOutcome {
    /// The sweep's name (the matrix's `name`).
    pub name: String,
    /// The sweep report; `None` for a slice (`--shard`), which sees only
    /// its own runs.
    pub report: Option<reports::sweep::SweepFiles>,
    /// Some configuration was safe (whole sweeps only).
    pub any_safe: bool,
    /// Every run in view (this slice's, or the whole sweep's), in matrix
    /// order, with what it concluded; a run the store lacks is undecided.
    pub verdicts: Vec<RunVerdict>,
    /// Runs the matrix asks for that the store does not hold
    /// (`--report-only`), as "cell label seed N".
    pub missing: Vec<String>,
}

impl SweepOutcome {
    /// Runs in view that the store holds.
    pub fn finished(&self) -> usize {
        self.verdicts.iter().filter(|v| v.dir.is_some()).count()
    }

    /// Of those, runs whose verdict named an anomaly.
    pub fn invalid(&self) -> usize {
        self.verdicts.iter().filter(|v| v.is_invalid()).count()
    }

    /// Of those, runs without a verdict.
    pub fn unknown(&self) -> usize {
        self.verdicts
            .iter()
            .filter(|v| v.dir.is_some() && v.is_undecided())
            .count()
    }
}

/// Runs the sweep (or its slice, or only its report); `None` when only the
/// plan was asked for (`args.plan`: the plan is printed).
pub fn sweep(args: &SweepOptions) -> Result<Option<SweepOutcome>, SweepError> {
    if args.plan {
        let (matrix, store, _) = prepare(args)?;
        print_plan(&matrix, &in_view(&store, &matrix, args));
        return Ok(None);
    }
    run(args).map(Some)
}

/// Runs the sweep (or its slice, or only its report), whatever `args.plan`.
pub fn run(args: &SweepOptions) -> Result<SweepOutcome, SweepError> {
    let (matrix, store, configs) = prepare(args)?;
    let planned = in_view(&store, &matrix, args);
    let missing: Vec<String> = planned
        .iter()
        .filter(|p| p.done.is_none())
        .map(|p| format!("{} seed {}", matrix.cells[p.cell].label(), p.seed))
        .collect();
    let mut finished = if args.report_only {
        planned.into_iter().filter_map(FinishedRun::of).collect()
    } else {
        run_missing(&matrix, &configs, planned)?
    };
    finished.sort_by_key(|p| (p.cell, p.seed));
    // Read back from the store after running, so a run that died without
    // results counts as undecided, exactly as a later merge would see it.
    let verdicts = in_view(&store, &matrix, args)
        .iter()
        .map(|p| RunVerdict::of(&matrix, p))
        .collect();
    let mut outcome = SweepOutcome {
        name: matrix.name.clone(),
        report: None,
        any_safe: false,
        verdicts,
        missing: if args.report_only {
            missing
        } else {
            Vec::new()
        },
    };
    if args.shard.is_some() {
        return Ok(outcome);
    }
    let runs: Vec<(usize, PathBuf)> = finished.into_iter().map(|r| (r.cell, r.dir)).collect();
    let report = super::report::build(args, &matrix, &store, &configs, &runs)?;
    let dir = plan::sweep_dir(&store, &matrix.name);
    let files =
        reports::sweep::write_sweep_report(&dir, "../..", &report).map_err(SweepError::Report)?;
    if let Err(e) = reports::render_store_index(&store) {
        eprintln!("converge: warning: store index not updated: {e}");
    }
    outcome.any_safe = report.configs.iter().any(|c| c.safe);
    outcome.report = Some(files);
    Ok(outcome)
}

/// The matrix, its store, and every cell's effective test, each cell's
/// test file written first.
fn prepare(args: &SweepOptions) -> Result<(Matrix, PathBuf, Vec<TestConfig>), SweepError> {
    let matrix = matrix::load(&args.matrix)?;
    let store = args
        .store
        .clone()
        .or_else(|| matrix.base_store.clone())
        .unwrap_or_else(|| PathBuf::from("store"));
    plan::write_cell_configs(&store, &matrix)?;
    let configs = load_cells(&matrix, &store, args)?;
    Ok((matrix, store, configs))
}

/// The runs this invocation is about: the slice's, or every cell × seed.
fn in_view(store: &Path, matrix: &Matrix, args: &SweepOptions) -> Vec<PlannedRun> {
    let planned = plan::plan(store, matrix);
    match args.shard {
        Some(shard) => shard.slice(planned),
        None => planned,
    }
}

/// Every cell's effective config, loaded exactly as `converge run --config`
/// would, so a bad field fails the sweep before any cluster starts.
pub(super) fn load_cells(
    matrix: &Matrix,
    store: &Path,
    args: &SweepOptions,
) -> Result<Vec<TestConfig>, SweepError> {
    refuse_node_bin_over_an_axis(matrix, args)?;
    matrix
        .cells
        .iter()
        .map(|cell| {
            crate::config::load(&run_args(matrix, store, args, cell, matrix.seeds[0])).map_err(
                |source| SweepError::Cell {
                    cell: cell.label(),
                    source,
                },
            )
        })
        .collect()
}

/// `--node-bin` overrides `deploy.node_bin` in every cell, as it does for
/// `converge run`. Over an axis that names a binary per cell it would make
/// every cell run the same node while the report still compared them as
/// different ones, so the two together are refused.
fn refuse_node_bin_over_an_axis(matrix: &Matrix, args: &SweepOptions) -> Result<(), SweepError> {
    if args.node_bin.is_none() {
        return Ok(());
    }
    let sets_node_bin = |axis: &&matrix::Axis| {
        axis.values.iter().any(|v| {
            v.assignments
                .iter()
                .any(|(path, _)| path.len() == 2 && path[0] == "deploy" && path[1] == "node_bin")
        })
    };
    match matrix.axes.iter().find(sets_node_bin) {
        Some(axis) => Err(SweepError::Input(format!(
            "--node-bin would replace the binary that axis {:?} sets per cell \
             (deploy.node_bin); drop --node-bin",
            axis.name
        ))),
        None => Ok(()),
    }
}

fn run_args(
    matrix: &Matrix,
    store: &Path,
    args: &SweepOptions,
    cell: &matrix::Cell,
    seed: u64,
) -> crate::config::Overrides {
    crate::config::Overrides {
        config: Some(plan::cell_config_path(store, matrix, cell)),
        seed: Some(seed),
        store: Some(store.to_path_buf()),
        node_bin: args.node_bin.clone(),
        ..Default::default()
    }
}

/// Lists every cell × seed. Written with `writeln!` and errors ignored, so
/// piping into `head` ends the listing instead of panicking on EPIPE.
fn print_plan(matrix: &Matrix, planned: &[PlannedRun]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "sweep {}: {} cells x {} seeds, {} runs already in the store",
        matrix.name,
        matrix.cells.len(),
        matrix.seeds.len(),
        planned.iter().filter(|p| p.done.is_some()).count()
    );
    for p in planned {
        let cell = &matrix.cells[p.cell];
        let state = match &p.done {
            Some(dir) => format!("done: {}", dir.display()),
            None => format!("to run: store/{}/", cell.id),
        };
        if writeln!(out, "seed {:<6} {:<50} {state}", p.seed, cell.label()).is_err() {
            return;
        }
    }
}

/// A run the sweep has a directory for.
#[derive(Debug, Clone)]
struct FinishedRun {
    cell: usize,
    seed: u64,
    dir: PathBuf,
}

impl FinishedRun {
    /// The planned run, if the store holds it.
    fn of(p: PlannedRun) -> Option<FinishedRun> {
        p.done.map(|dir| FinishedRun {
            cell: p.cell,
            seed: p.seed,
            dir,
        })
    }
}

fn run_missing(
    matrix: &Matrix,
    configs: &[TestConfig],
    planned: Vec<PlannedRun>,
) -> Result<Vec<FinishedRun>, SweepError> {
    let (done, todo): (Vec<_>, Vec<_>) = planned.into_iter().partition(|p| p.done.is_some());
    let mut finished: Vec<FinishedRun> = done.into_iter().filter_map(FinishedRun::of).collect();
    if !finished.is_empty() {
        eprintln!(
            "converge: sweep {}: {} runs already in the store, {} to run",
            matrix.name,
            finished.len(),
            todo.len()
        );
    }
    if todo.is_empty() {
        return Ok(finished);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| SweepError::Setup {
            action: "start the async runtime",
            source,
        })?;
    let mut signals = Signals::install(&rt)?;
    let multi = MultiProgress::new();
    let bar = multi.add(ProgressBar::new(todo.len() as u64));
    bar.set_style(
        ProgressStyle::with_template("sweep [{elapsed_precise}] {bar:30} {pos}/{len} runs  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Elapsed time moves even while a run's line is the only one updating.
    bar.enable_steady_tick(Duration::from_secs(1));
    crate::output::progress::draw_under(multi.clone());
    // On a terminal, status lines print above the bars; otherwise (logs,
    // CI) the bars are hidden and the lines go to stderr as they are.
    let status = |line: String| {
        if multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = multi.println(line);
        }
    };
    let mut eta = Eta::default();
    let total = todo.len();
    // Each remaining run's time limit, for the ETA.
    let limits: Vec<Duration> = todo
        .iter()
        .map(|p| configs[p.cell].test.time_limit.get())
        .collect();
    for (i, p) in todo.into_iter().enumerate() {
        let cell = &matrix.cells[p.cell];
        let mut cfg = configs[p.cell].clone();
        cfg.test.seed = p.seed;
        let eta_text = eta.remaining(&limits[i..]);
        bar.set_message(format!("ETA {eta_text}: {} seed {}", cell.label(), p.seed));
        status(format!(
            "converge: sweep {} run {}/{total}, ETA {eta_text}: {} seed {}",
            matrix.name,
            i + 1,
            cell.label(),
            p.seed
        ));
        let started = Instant::now();
        let outcome = run_one(&rt, &mut signals, cfg).map_err(|e| match e {
            RunStop::Signal(sig) => SweepError::Interrupted(format!(
                "{sig} during {} seed {}; {} runs are stored; rerun the same command to resume",
                cell.label(),
                p.seed,
                finished.len()
            )),
            RunStop::Failed(source) => SweepError::Run {
                cell: cell.label(),
                seed: p.seed,
                source,
            },
        })?;
        eta.record(started.elapsed(), configs[p.cell].test.time_limit.get());
        status(format!(
            "converge: sweep: {} seed {} -> {} ({})",
            cell.label(),
            p.seed,
            verdict_word(&outcome.results.results.valid),
            outcome.dir.display()
        ));
        if let Err(e) = reports::render_run_report(&outcome.dir) {
            eprintln!(
                "converge: warning: no report.html for {}: {e}",
                outcome.dir.display()
            );
        }
        finished.push(FinishedRun {
            cell: p.cell,
            seed: p.seed,
            dir: outcome.dir,
        });
        bar.inc(1);
    }
    bar.finish_with_message("done");
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(finished)
}

/// Why one run of the sweep ended without a verdict.
enum RunStop {
    /// Ctrl-C or SIGTERM, in words.
    Signal(&'static str),
    Failed(Box<crate::run::RunError>),
}

struct RunDone {
    dir: PathBuf,
    results: checkers::results_file::RunResults,
}

/// SIGINT and SIGTERM, listened to for the whole sweep: a signal that
/// arrives between two runs is kept by the stream and stops the next one
/// before it starts, instead of being swallowed while nothing listens.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install(rt: &tokio::runtime::Runtime) -> Result<Signals, SweepError> {
        use tokio::signal::unix::{SignalKind, signal};
        let _context = rt.enter();
        let fail = |source| SweepError::Setup {
            action: "watch for Ctrl-C",
            source,
        };
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(fail)?,
            term: signal(SignalKind::terminate()).map_err(fail)?,
        })
    }

    /// Resolves on the next SIGINT or SIGTERM, naming it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "interrupted (SIGINT)",
            _ = self.term.recv() => "terminated (SIGTERM)",
        }
    }
}

fn run_one(
    rt: &tokio::runtime::Runtime,
    signals: &mut Signals,
    cfg: TestConfig,
) -> Result<RunDone, RunStop> {
    let slot: RunDirSlot = Arc::default();
    rt.block_on(async {
        tokio::select! {
            // A pending signal wins before the run even starts.
            biased;
            sig = signals.next() => Err(RunStop::Signal(sig)),
            r = crate::run::run(cfg, Arc::clone(&slot)) => match r {
                Ok(done) => Ok(RunDone { dir: done.run_dir.root().to_path_buf(), results: done.results }),
                Err(e) => Err(RunStop::Failed(Box::new(e))),
            },
        }
    })
}

fn verdict_word(v: &checkers::Validity) -> &'static str {
    match v {
        checkers::Validity::True => "valid",
        checkers::Validity::False => "anomalies found",
        checkers::Validity::Unknown => "unknown",
    }
}

/// Estimates the time left from the runs done so far: each run costs its
/// time limit plus a measured overhead (setup, heal, convergence wait,
/// checks); before the first run finishes the overhead is a guess.
#[derive(Default)]
struct Eta {
    overhead: Vec<Duration>,
}

impl Eta {
    /// Before any run: setup, heal, a convergence wait and checks.
    const FIRST_GUESS: Duration = Duration::from_secs(8);

    fn record(&mut self, took: Duration, time_limit: Duration) {
        self.overhead.push(took.saturating_sub(time_limit));
    }

    fn remaining(&self, limits: &[Duration]) -> String {
        let overhead = if self.overhead.is_empty() {
            Self::FIRST_GUESS
        } else {
            self.overhead.iter().sum::<Duration>() / self.overhead.len() as u32
        };
        let secs: u64 = limits.iter().map(|l| (*l + overhead).as_secs()).sum();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_adds_the_measured_overhead_to_each_remaining_time_limit() {
        let mut eta = Eta::default();
        let limits = [Duration::from_secs(20); 3];
        // Before any run: the first guess of overhead per run.
        assert_eq!(eta.remaining(&limits), "1m24s");
        eta.record(Duration::from_secs(30), Duration::from_secs(20));
        eta.record(Duration::from_secs(24), Duration::from_secs(20));
        assert_eq!(eta.remaining(&limits), "1m21s");
        assert_eq!(eta.remaining(&[]), "0m00s");
    }

    #[test]
    fn node_bin_is_refused_over_an_axis_that_sets_the_binary_per_cell() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(
            &path,
            "seeds = 1\n[axes]\nnode = [\n  { label = \"a\", \"deploy.node_bin\" = \"/opt/a\" },\n  \
             { label = \"b\", \"deploy.node_bin\" = \"/opt/b\" },\n]\n",
        )
        .unwrap();
        let matrix = matrix::load(&path).unwrap();
        let args = |node_bin: Option<&str>| SweepOptions {
            matrix: path.clone(),
            store: Some(dir.path().join("store")),
            node_bin: node_bin.map(PathBuf::from),
            plan: false,
            shard: None,
            report_only: false,
        };
        match refuse_node_bin_over_an_axis(&matrix, &args(Some("/opt/c"))) {
            Err(SweepError::Input(msg)) => {
                assert!(
                    msg.contains("axis \"node\"") && msg.contains("drop --node-bin"),
                    "{msg}"
                );
            }
            other => panic!("expected the refusal, got {other:?}"),
        }
        assert!(refuse_node_bin_over_an_axis(&matrix, &args(None)).is_ok());
        // An axis over something else leaves --node-bin alone.
        std::fs::write(
            &path,
            "seeds = 1\n[axes]\n\"read_repair.mode\" = [\"off\"]\n",
        )
        .unwrap();
        let other = matrix::load(&path).unwrap();
        assert!(refuse_node_bin_over_an_axis(&other, &args(Some("/opt/c"))).is_ok());
    }
}

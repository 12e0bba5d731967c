//! The binary's edge: each command as the binary runs it — config loading,
//! the run under a SIGINT/SIGTERM watch, the closing table, JUnit — and the
//! only place that prints errors and picks exit codes (the library returns
//! typed outcomes and errors).
//!
//! Exit codes: 0 every checker valid (sweep: some configuration safe; zoo:
//! no false alarm); 1 anomalies found (sweep: none safe; zoo: a clean-node
//! run was not valid); 2 bad input, harness error, interrupted run or
//! sweep, or an undecided verdict. A fleet, a sweep slice, a merge and
//! `sweep --report-only` gate on their runs: 1 if any run found anomalies,
//! 2 if any has no verdict or is missing.

use crate::cli::{
    CheckArgs, Cli, Command, MergeArgs, ReportArgs, RunArgs, ServeArgs, SweepArgs, ZooArgs,
};
use checkers::Validity;
use checkers::results_file::RunResults;
use converge::output::{junit, table};
use converge::run::RunDirSlot;
use converge::sweep::execute::SweepOutcome;
use converge::sweep::fleet::FleetOptions;
use converge::sweep::shard::Shard;
use converge::sweep::verdicts::{Gate, RunVerdict, gate};
use std::path::Path;
use std::sync::Arc;

const EXIT_VALID: i32 = 0;
const EXIT_ANOMALIES: i32 = 1;
const EXIT_ERROR: i32 = 2;

/// Runs the parsed command and returns the process exit code.
pub(crate) fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Check(args) => check_command(&args),
        Command::Sweep(args) => sweep_command(&args),
        Command::Zoo(args) => zoo_command(&args),
        Command::Merge(args) => merge_command(&args),
        Command::Report(args) => report_command(&args),
        Command::Serve(args) => serve_command(&args),
    }
}

fn error(msg: impl std::fmt::Display) -> i32 {
    eprintln!("converge: error: {msg}");
    EXIT_ERROR
}

fn exit_code(v: Validity) -> i32 {
    match v {
        Validity::True => EXIT_VALID,
        Validity::False => EXIT_ANOMALIES,
        Validity::Unknown => EXIT_ERROR,
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_command(args: &RunArgs) -> i32 {
    let cfg = match converge::config::load(&args.into()) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    if let Some(seeds) = args.seeds {
        return fleet_command(cfg, seeds, args.shard);
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return error(e),
    };
    let junit_path = cfg.test.junit.clone();
    let name = cfg.test.name.clone();
    let slot: RunDirSlot = Arc::default();
    let outcome = rt.block_on(async {
        let run = converge::run::run(cfg, Arc::clone(&slot));
        tokio::select! {
            r = run => Some(r),
            sig = shutdown_signal() => {
                // Dropping `run` here dropped its TeardownGuard: the cluster is
                // healed and stopped before we print.
                eprintln!("converge: {sig}: stopped the run; nodes stopped");
                None
            }
        }
    });
    // Background tasks must not outlive the run (they are aborted anyway).
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    match outcome {
        None => {
            if let Some(dir) = slot.lock().ok().and_then(|s| s.clone()) {
                eprintln!(
                    "converge: partial run in {}; check it with `converge check {}`",
                    dir.display(),
                    dir.display()
                );
            }
            EXIT_ERROR
        }
        Some(Err(e)) => error(e.to_string()),
        Some(Ok(done)) => report(
            &name,
            done.run_dir.root(),
            &done.results,
            junit_path.as_deref(),
        ),
    }
}

fn check_command(args: &CheckArgs) -> i32 {
    match converge::check::check_command(&args.run_dir, args.conflict.as_deref()) {
        Ok((run, results)) => report(
            &results.run.name,
            run.root(),
            &results,
            args.junit.as_deref(),
        ),
        Err(e) => error(e),
    }
}

/// `converge sweep`: the report's paths; as the exit code, whether any
/// configuration was safe (a whole sweep) or how its runs ended (a slice,
/// `--report-only`).
fn sweep_command(args: &SweepArgs) -> i32 {
    let outcome = match converge::sweep::execute::sweep(&args.into()) {
        Ok(None) => return EXIT_VALID,
        Ok(Some(outcome)) => outcome,
        Err(e) => return error(e),
    };
    for m in &outcome.missing {
        eprintln!("converge: missing from the store: {m}");
    }
    if let Some(path) = &args.junit
        && let Err(e) = write_sweep_junit(path, &outcome)
    {
        return error(e);
    }
    let Some(files) = &outcome.report else {
        // A slice: its own runs decide.
        println!(
            "shard {}: {} runs, {} with anomalies, {} undecided",
            args.shard.map(|s| s.to_string()).unwrap_or_default(),
            outcome.finished(),
            outcome.invalid(),
            outcome.unknown()
        );
        return gate_code(&outcome.verdicts);
    };
    println!("sweep report: {}", files.html.display());
    println!("summary:      {}", files.markdown.display());
    if args.report_only {
        return gate_code(&outcome.verdicts);
    }
    if outcome.any_safe {
        EXIT_VALID
    } else {
        eprintln!("converge: no configuration was safe");
        EXIT_ANOMALIES
    }
}

/// The exit code of a CI gate over runs.
fn gate_code(runs: &[RunVerdict]) -> i32 {
    match gate(runs) {
        Gate::Valid => EXIT_VALID,
        Gate::Anomalies => EXIT_ANOMALIES,
        Gate::Undecided => EXIT_ERROR,
    }
}

/// One JUnit file for a sweep's runs, named after the sweep.
fn write_sweep_junit(path: &Path, outcome: &SweepOutcome) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::write(path, junit::render_sweep(&outcome.name, &outcome.verdicts))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `converge run --seeds N`: the test over N seeds (or a slice of them).
fn fleet_command(cfg: converge::config::TestConfig, seeds: u32, shard: Option<Shard>) -> i32 {
    let junit_path = cfg.test.junit.clone();
    let name = cfg.test.name.clone();
    let opts = FleetOptions {
        seed_base: cfg.test.seed,
        test: cfg,
        seeds,
        shard,
    };
    let outcome = match converge::sweep::fleet::fleet(&opts) {
        Ok(o) => o,
        Err(e) => return error(e),
    };
    let invalid = outcome.runs.iter().filter(|r| r.is_invalid()).count();
    let undecided = outcome.runs.iter().filter(|r| r.is_undecided()).count();
    for r in &outcome.runs {
        let verdict = match r.valid {
            Some(Validity::True) => "valid".to_string(),
            Some(Validity::False) => format!("INVALID ({})", r.kinds.join(", ")),
            _ => "no verdict".to_string(),
        };
        let dir = r
            .dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        println!("seed {:<17} {verdict}  {dir}", r.seed);
    }
    println!(
        "fleet {name}{}: {} runs, {invalid} with anomalies, {undecided} undecided (seeds drawn from {})",
        shard.map(|s| format!(" shard {s}")).unwrap_or_default(),
        outcome.runs.len(),
        opts.seed_base
    );
    if let Some(files) = &outcome.report {
        println!("sweep report: {}", files.html.display());
    }
    if let Some(path) = junit_path
        && let Err(e) = std::fs::write(&path, junit::render_fleet(&name, &outcome.runs))
    {
        return error(format!("cannot write {}: {e}", path.display()));
    }
    gate_code(&outcome.runs)
}

fn merge_command(args: &MergeArgs) -> i32 {
    let outcome = match converge::sweep::merge::merge(&args.into()) {
        Ok(outcome) => outcome,
        Err(e) => return error(e),
    };
    for r in &outcome.refused {
        eprintln!("converge: refused: {r}");
    }
    for m in &outcome.sweep.missing {
        eprintln!("converge: missing from the store: {m}");
    }
    println!(
        "merged: {} runs copied, {} already present, {} refused, {} missing",
        outcome.copied,
        outcome.present,
        outcome.refused.len(),
        outcome.sweep.missing.len()
    );
    if let Some(files) = &outcome.sweep.report {
        println!("sweep report: {}", files.html.display());
        println!("summary:      {}", files.markdown.display());
    }
    if let Some(path) = &args.junit
        && let Err(e) = write_sweep_junit(path, &outcome.sweep)
    {
        return error(e);
    }
    if !outcome.refused.is_empty() {
        eprintln!("converge: refused runs do not belong to this matrix");
        return EXIT_ERROR;
    }
    gate_code(&outcome.sweep.verdicts)
}

fn zoo_command(args: &ZooArgs) -> i32 {
    match converge::zoo::zoo(&args.into()) {
        Ok(None) => EXIT_VALID,
        Ok(Some(outcome)) => {
            println!("zoo report: {}", outcome.html.display());
            println!("table:      {}", outcome.markdown.display());
            let false_alarms = outcome.report.false_alarms();
            if false_alarms == 0 {
                EXIT_VALID
            } else {
                eprintln!(
                    "converge: {false_alarms} clean-node run(s) were not valid: false alarms"
                );
                EXIT_ANOMALIES
            }
        }
        Err(e) => error(e),
    }
}

fn report_command(args: &ReportArgs) -> i32 {
    let run = match converge::store::RunDir::open(&args.run_dir) {
        Ok(run) => run,
        Err(e) => return error(e),
    };
    match write_html_reports(run.root()) {
        Ok(path) => {
            println!("report: {}", path.display());
            EXIT_VALID
        }
        // `{:#}`: the context and its cause on one line.
        Err(e) => error(format!("{e:#}")),
    }
}

fn serve_command(args: &ServeArgs) -> i32 {
    if !args.store.is_dir() {
        return error(format!(
            "store {} does not exist; run `converge run` first or pass --store DIR",
            args.store.display()
        ));
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return error(e),
    };
    println!(
        "converge: serving {} on http://{} (Ctrl-C stops)",
        args.store.display(),
        args.listen
    );
    match rt.block_on(reports::serve(args.store.clone(), args.listen)) {
        Ok(()) => EXIT_VALID,
        Err(e) => error(format!("cannot serve on {}: {e}", args.listen)),
    }
}

/// Renders the run's report.html and rewrites the store's index.html (the
/// store is two levels up: `store/<test>/<timestamp>/`).
fn write_html_reports(run_dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    let path = reports::render_run_report(run_dir)
        .with_context(|| format!("cannot render the report of {}", run_dir.display()))?;
    let store = run_dir
        .canonicalize()
        .ok()
        .and_then(|d| d.parent().and_then(Path::parent).map(Path::to_path_buf));
    if let Some(store) = store {
        reports::render_store_index(&store)
            .with_context(|| format!("cannot render the store index {}", store.display()))?;
    }
    Ok(path)
}

/// Prints the table, writes the HTML report and JUnit if asked, and maps the
/// verdict to a code.
fn report(name: &str, dir: &Path, r: &RunResults, junit_path: Option<&Path>) -> i32 {
    print!("{}", table::render(&r.results));
    match write_html_reports(dir) {
        Ok(path) => println!("report: {}", path.display()),
        // The verdict stands without its HTML rendering: warn, don't fail.
        Err(e) => eprintln!("converge: warning: {e:#}"),
    }
    println!("run: {}  seed: {}", dir.display(), r.run.seed);
    println!("reproduce: {}", r.run.reproduce);
    for p in &r.run.problems {
        eprintln!("converge: warning: {p}");
    }
    if let Some(path) = junit_path {
        let xml = junit::render(name, &r.results, r.run.timings.workload_s);
        if let Err(e) = std::fs::write(path, xml) {
            return error(format!("cannot write JUnit report {}: {e}", path.display()));
        }
    }
    exit_code(r.results.valid)
}

/// Resolves on the first SIGINT or SIGTERM, naming it.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without handlers the default action (exit) applies; the nodes still
        // die with us through their parent-death signal.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "interrupted (SIGINT)",
        _ = term.recv() => "terminated (SIGTERM)",
    }
}

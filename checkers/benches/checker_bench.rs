//! Benchmark: parse and check a generated 10M-op history.
//!
//! `cargo bench -p converge-checkers --bench checker_bench -- [--ops N]
//! [--keys K] [--processes P] [--conflict lww|dvv] [--dir PATH]`
//!
//! Generates (once per parameter set) a history from the simulated register in
//! `tests/support/sim.rs`, driven by the workloads crate — Zipf (s = 1.0) over
//! K keys, P closed-loop processes, 1% info and 0.5% fail ops, a partition
//! window every 10 s — then re-runs itself as a child process that measures,
//! on one thread: parse only (history → op table), then parse + every checker
//! (`check_files`, including the second pass that fetches example events),
//! and the child's peak RSS (VmHWM), so generation does not count.

#[path = "../tests/support/sim.rs"]
#[allow(dead_code)]
mod sim;

use checkers::history::write_line;
use checkers::{CheckConfig, Conflict, check_files};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use workloads::{Mix, WorkloadConfig, WorkloadKind};

struct Args {
    ops: u64,
    keys: u64,
    processes: u32,
    conflict: Conflict,
    dir: PathBuf,
    measure: bool,
    breakdown: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        ops: 10_000_000,
        keys: 100_000,
        processes: 64,
        conflict: Conflict::Lww,
        dir: std::env::temp_dir().join("converge-checker-bench"),
        measure: false,
        breakdown: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--ops" => a.ops = val()?.parse().map_err(|e| format!("--ops: {e}"))?,
            "--keys" => a.keys = val()?.parse().map_err(|e| format!("--keys: {e}"))?,
            "--processes" => {
                a.processes = val()?.parse().map_err(|e| format!("--processes: {e}"))?
            }
            "--conflict" => {
                a.conflict = match val()?.as_str() {
                    "lww" => Conflict::Lww,
                    "dvv" => Conflict::Dvv,
                    other => return Err(format!("--conflict: unknown {other:?}")),
                }
            }
            "--dir" => a.dir = PathBuf::from(val()?),
            "--measure" => a.measure = true,
            "--breakdown" => a.breakdown = true,
            // cargo bench passes --bench to harness=false targets.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

fn files(a: &Args) -> (PathBuf, PathBuf) {
    let tag = format!("{}-{}-{}-{:?}", a.ops, a.keys, a.processes, a.conflict).to_lowercase();
    (
        a.dir.join(format!("history-{tag}.jsonl")),
        a.dir.join(format!("final-{tag}.jsonl")),
    )
}

fn generate(a: &Args, history: &Path, fin: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(&a.dir)?;
    let cfg = sim::SimConfig {
        workload: WorkloadConfig {
            kind: match a.conflict {
                Conflict::Lww => WorkloadKind::Register,
                Conflict::Dvv => WorkloadKind::Causal,
            },
            keys: a.keys,
            zipf_exponent: 1.0,
            uniform_share: 0.05,
            mix: Mix {
                read: 50,
                write: 40,
                delete: 10,
            },
            // Every causal write carries a context, as when the figures in
            // docs/BENCHMARKS.md were taken.
            blind_writes: 0.0,
            // The bench draws from the timeless Zipf stream, which never
            // runs lifecycles; said here so the config reads as what it is.
            lifecycle: None,
            seed: 42,
        },
        processes: a.processes,
        ops: a.ops,
        conflict: a.conflict,
        info_share: 0.01,
        fail_share: 0.005,
        skew_ns: 0,
        nemesis_every_ns: Some(10_000_000_000),
        seed: 42,
    };
    let tmp = history.with_extension("partial");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut err = None;
    let final_lines = sim::run(&cfg, |e| {
        if err.is_none()
            && let Err(e) = write_line(&mut out, e)
        {
            err = Some(e);
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    out.flush()?;
    let mut f = BufWriter::new(std::fs::File::create(fin)?);
    for l in &final_lines {
        write_line(&mut f, l)?;
    }
    f.flush()?;
    std::fs::rename(tmp, history)
}

/// CPU time this process has run, in seconds (first field of schedstat, ns).
/// Reported next to wall time because the machine is shared: wall time
/// includes time spent waiting for a core.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time of each checker on an already parsed table.
fn breakdown(a: &Args, mut table: checkers::ops::OpTable, fin: &Path) -> Result<(), String> {
    use checkers::{
        context, convergence, lost, perf, phantoms, resurrection, sessions, staleness, timeline,
    };
    let cfg = CheckConfig {
        conflict: a.conflict,
        // The simulated store is one linearizable copy, as strict quorums
        // with R + W > N promise: every read is judged as evidence too.
        quorum: Some(checkers::Quorum { n: 3, r: 2, w: 2 }),
        ..CheckConfig::default()
    };
    let mut lap = {
        let mut c = cpu_seconds();
        move |what: &str| {
            let now = cpu_seconds();
            println!("  {what:<28} {:.2} s CPU", now - c);
            c = now;
        }
    };
    let file = std::fs::File::open(fin).map_err(|e| e.to_string())?;
    let lines = checkers::parse::read_final_state_lines(std::io::BufReader::new(file))
        .map_err(|e| e.to_string())?;
    let view = context::FinalView::build(&mut table, &lines);
    lap("final state");
    let cx = context::Context::new(&table, &cfg, view);
    lap("context");
    let mut stale = staleness::Staleness::new(&cx);
    let mut sess = sessions::Sessions::new(&cx);
    let mut tl = timeline::KeyTimeline::default();
    for k in 0..table.key_count() as u32 {
        let ops = table.ops_on(k);
        if !ops.is_empty() {
            tl.load(&table, ops);
        }
    }
    lap("key timelines");
    for k in 0..table.key_count() as u32 {
        let ops = table.ops_on(k);
        if !ops.is_empty() {
            tl.load(&table, ops);
            stale.key(&cx, k, ops, &tl);
        }
    }
    lap("timelines + staleness");
    for k in 0..table.key_count() as u32 {
        let ops = table.ops_on(k);
        if !ops.is_empty() {
            tl.load(&table, ops);
            sess.key(&cx, k, ops, &tl);
        }
    }
    lap("timelines + sessions");
    let (_, evidence) = stale.finish(&cx);
    let _ = sess.finish(&cx);
    let _ = convergence::check(&cx);
    lap("convergence");
    let _ = lost::check(&cx, &evidence);
    lap("lost-updates");
    let _ = resurrection::check(&cx, &evidence);
    lap("resurrection");
    let _ = phantoms::check(&cx);
    lap("phantoms");
    let _ = perf::check(&cx);
    lap("perf");
    Ok(())
}

fn measure(a: &Args, history: &Path, fin: &Path) -> Result<(), String> {
    let size_mb = std::fs::metadata(history).map_err(|e| e.to_string())?.len() as f64 / 1e6;
    let (t, c) = (Instant::now(), cpu_seconds());
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(history).map_err(|e| e.to_string())?,
    );
    let table = checkers::parse::read_op_table(reader).map_err(|e| e.to_string())?;
    let parse = t.elapsed().as_secs_f64();
    let parse_cpu = cpu_seconds() - c;
    let ops = table.ops.len() as f64;
    let lines = table.lines;
    if a.breakdown {
        breakdown(a, table, fin)?;
    } else {
        drop(table);
    }
    let cfg = CheckConfig {
        conflict: a.conflict,
        // The simulated store is one linearizable copy, as strict quorums
        // with R + W > N promise: every read is judged as evidence too.
        quorum: Some(checkers::Quorum { n: 3, r: 2, w: 2 }),
        ..CheckConfig::default()
    };
    let (t, c) = (Instant::now(), cpu_seconds());
    let results = check_files(history, Some(fin), &cfg).map_err(|e| e.to_string())?;
    let full = t.elapsed().as_secs_f64();
    let full_cpu = cpu_seconds() - c;
    println!(
        "history: {size_mb:.0} MB, {lines} lines, {ops} ops, conflict {:?}",
        a.conflict
    );
    println!(
        "parse only:          {parse:.2} s wall, {parse_cpu:.2} s CPU  ({:.0} ops/s by CPU time)",
        ops / parse_cpu
    );
    println!(
        "parse + all checks:  {full:.2} s wall, {full_cpu:.2} s CPU  ({:.0} ops/s by CPU time)",
        ops / full_cpu
    );
    println!(
        "ratio full/parse:    {:.2} (CPU time)",
        full_cpu / parse_cpu
    );
    match peak_rss_mb() {
        Some(mb) => println!("peak RSS (VmHWM):    {mb:.0} MB"),
        None => println!("peak RSS (VmHWM):    unavailable"),
    }
    let verdicts: Vec<String> = results
        .checks
        .iter()
        .map(|c| format!("{}={:?}", c.checker, c.valid))
        .collect();
    println!("verdicts: {}", verdicts.join(" "));
    Ok(())
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("checker_bench: {e}");
            std::process::exit(2);
        }
    };
    let (history, fin) = files(&a);
    if a.measure {
        if let Err(e) = measure(&a, &history, &fin) {
            eprintln!("checker_bench: {e}");
            std::process::exit(1);
        }
        return;
    }
    if !history.exists() || !fin.exists() {
        let t = Instant::now();
        eprintln!("generating {} ...", history.display());
        if let Err(e) = generate(&a, &history, &fin) {
            eprintln!("checker_bench: generating: {e}");
            std::process::exit(1);
        }
        eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    // Measure in a fresh process so its peak RSS is the checker's alone.
    let status = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args(std::env::args().skip(1))
            .arg("--measure")
            .status()
    });
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => std::process::exit(s.code().unwrap_or(1)),
        Err(e) => {
            eprintln!("checker_bench: running the measurement: {e}");
            std::process::exit(1);
        }
    }
}

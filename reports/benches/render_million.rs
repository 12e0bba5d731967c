//! Benchmark: render the report of a 1,000,000-op run.
//!
//! Targets (issue 6): ≤ 5 s to render, ≤ 5 MB of HTML. Generates a synthetic
//! run directory (the same generator as the tests, so every section and
//! anomaly kind is present), then times `render_run_report` and
//! `render_store_index` and prints the sizes.
//!
//!     cargo bench -p converge-reports --bench render_million [-- OPS]
//!
//! `BENCH_OUT=DIR` keeps the generated store under DIR.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

fn main() {
    let ops: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // BENCH_OUT=DIR keeps the generated store (to look at the report).
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = std::env::var_os("BENCH_OUT").map(std::path::PathBuf::from);
    let store = base
        .unwrap_or_else(|| tmp.path().to_path_buf())
        .join("store");
    let run = store.join("bench/20261125T100000Z");

    let t = Instant::now();
    common::write_run(
        &run,
        &common::Spec {
            ops,
            processes: 20,
            nodes: 5,
            ..Default::default()
        },
    );
    let history_bytes = std::fs::metadata(run.join("history.jsonl"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "generated {ops} ops ({:.1} MB history) in {:.1} s",
        history_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Reset the peak-RSS mark so it measures rendering, not generation
    // (Linux: writing 5 to clear_refs resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let report = reports::render_run_report(&run).expect("render");
        times.push(t.elapsed().as_secs_f64());
        size = std::fs::metadata(report).map(|m| m.len()).unwrap_or(0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "render_run_report: min {:.2} s, median {:.2} s, max {:.2} s; report.html {:.2} MB",
        times[0],
        times[1],
        times[2],
        size as f64 / 1e6
    );

    let t = Instant::now();
    let index = reports::render_store_index(&store).expect("index");
    println!(
        "render_store_index: {:.3} s; index.html {} bytes",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(index).map(|m| m.len()).unwrap_or(0)
    );
    println!(
        "peak RSS while rendering: {}",
        peak_rss().unwrap_or_else(|| "unknown".into())
    );
}

/// VmHWM of this process, from /proc/self/status.
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM"))?;
    Some(
        line.split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

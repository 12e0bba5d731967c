//! What the sweep takes from one finished run: verdicts and anomaly counts
//! from results.json, repair work from the node counters in metrics.jsonl,
//! and the longest partition or outage from the fault windows. The
//! checkers' figures are read through their typed details
//! (`checkers::Results::details`); details that do not read as their type
//! (results written by another version) count as absent, as a missing
//! figure always has.
//!
//! Node counters restart at zero when the nemesis crashes or wipes a node,
//! so totals are sums of per-sample increases with a drop read as a restart
//! (the Prometheus `increase()` rule), never the last value.

use checkers::convergence::ConvergenceDetails;
use checkers::fault::FaultKind;
use checkers::metrics_file::{counter_increase, for_each_sample};
use checkers::perf::PerfDetails;
use checkers::results_file::ResultsFileError;
use checkers::staleness::{StalenessDetails, VisibilityBucket};
use checkers::{CheckDetails, Results, Validity};
use reports::sweep::RunSummary;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a finished run could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Results(#[from] ResultsFileError),
    #[error("cannot read {}: {source}", path.display())]
    Metrics {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Faults during which a replica misses writes and deletes. Not `link`:
/// one cut link leaves both its nodes reachable from every other replica,
/// so writes and deletes still reach them through repair within the lag.
const OUTAGE_FAULTS: [FaultKind; 4] = [
    FaultKind::Partition,
    FaultKind::Crash,
    FaultKind::Pause,
    FaultKind::Wipe,
];

/// `D`'s checker's details, if it ran and they read as `D`.
fn details<D: CheckDetails>(r: &Results) -> Option<D> {
    r.details::<D>().and_then(Result::ok)
}

/// Reads a finished run directory into a [`RunSummary`]. `store` makes the
/// run's path relative; `points_ms` are the t-visibility points.
pub fn summarize(
    store: &Path,
    run_dir: &Path,
    points_ms: &[u64],
) -> Result<RunSummary, MeasureError> {
    let results = checkers::results_file::read(&run_dir.join(checkers::run_files::RESULTS))?;
    let r = &results.results;
    let count = |checker: &str, kind: &str| {
        r.check(checker)
            .and_then(|c| c.counts.get(kind).copied())
            .unwrap_or(0)
    };
    let convergence = details::<ConvergenceDetails>(r);
    let converged = convergence
        .as_ref()
        .is_some_and(ConvergenceDetails::converged);
    let staleness = details::<StalenessDetails>(r).map(|s| s.all);
    let perf = details::<PerfDetails>(r);
    let counters = repair_counters(&run_dir.join(checkers::run_files::METRICS))?;
    let ops = &results.run.ops;
    Ok(RunSummary {
        seed: results.run.seed,
        run_dir: run_dir
            .strip_prefix(store)
            .unwrap_or(run_dir)
            .display()
            .to_string(),
        verdict: match r.valid {
            Validity::True => "valid",
            Validity::False => "invalid",
            Validity::Unknown => "unknown",
        }
        .into(),
        // Each lost write and resurrected value is counted once by its
        // checker, from the final state or (if only a read showed it) from
        // the read; the two kinds never count the same one twice.
        lost_updates: count("lost-updates", "lost-write")
            + count("lost-updates", "lost-write-observed"),
        resurrections: count("resurrection", "resurrected-value")
            + count("resurrection", "resurrection-observed"),
        divergent_keys: count("convergence", "divergent-key"),
        convergence_ms: convergence
            .filter(|_| converged)
            .and_then(|d| d.time_to_converge_ms()),
        stale_read_rate: staleness.as_ref().and_then(|s| s.stale_rate),
        client_ops: ops.ok + ops.info + ops.fail,
        anti_entropy_bytes: counters.anti_entropy_bytes,
        read_repair_writes: counters.read_repair_writes,
        hints_replayed: counters.hints_replayed,
        p99_latency_ms: perf.as_ref().and_then(worst_p99),
        longest_partition_s: perf.as_ref().map_or(0.0, longest_outage_s),
        t_visibility: points_ms
            .iter()
            .map(|p| {
                staleness
                    .as_ref()
                    .and_then(|s| fresh_share_at(&s.t_visibility, *p))
            })
            .collect(),
    })
}

/// The slowest op type's p99 over successful ops.
fn worst_p99(perf: &PerfDetails) -> Option<f64> {
    let l = &perf.latency;
    [&l.read, &l.write, &l.delete]
        .into_iter()
        .filter_map(|by_outcome| by_outcome.ok.as_ref().map(|ok| ok.p99_ms))
        .reduce(f64::max)
}

/// The longest partition, crash, pause or wipe window, seconds. A window
/// the final heal closed has no stop; it lasted until the workload ended.
fn longest_outage_s(perf: &PerfDetails) -> f64 {
    let end = perf.duration_ns as f64;
    perf.nemesis_windows
        .iter()
        .filter(|w| w.fault.is_some_and(|k| OUTAGE_FAULTS.contains(&k)))
        .map(|w| {
            let stop = w.stop_ns.map_or(end, |s| s as f64);
            (stop - w.start_ns as f64).max(0.0) / 1e9
        })
        .fold(0.0, f64::max)
}

/// The fresh share of the t-visibility bucket holding `point_ms`, if any
/// read fell into it. The open last bucket holds no point.
fn fresh_share_at(buckets: &[VisibilityBucket], point_ms: u64) -> Option<f64> {
    let b = buckets
        .iter()
        .find(|b| b.from_ms <= point_ms && b.to_ms.is_some_and(|to| point_ms < to))?;
    (b.reads > 0).then_some(b.fresh_share)
}

/// Repair work summed over nodes.
#[derive(Debug, Default, PartialEq)]
pub struct RepairCounters {
    pub anti_entropy_bytes: f64,
    pub read_repair_writes: f64,
    pub hints_replayed: f64,
}

/// Which counter a series feeds, by name prefix.
fn counter_of(series: &str) -> Option<usize> {
    if series.starts_with("converge_anti_entropy_bytes_total{direction=\"sent\"") {
        Some(0)
    } else if series.starts_with("converge_read_repair_replicas_total") {
        Some(1)
    } else if series == "converge_hints_replayed_total" {
        Some(2)
    } else {
        None
    }
}

/// Sums counter increases per node and series over metrics.jsonl. A
/// missing file (a run with no samples) counts as no repair work.
pub fn repair_counters(path: &Path) -> Result<RepairCounters, MeasureError> {
    let unreadable = |source| MeasureError::Metrics {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RepairCounters::default()),
        Err(e) => return Err(unreadable(e)),
    };
    let mut last: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut totals = [0.0f64; 3];
    // A harness killed mid-write leaves a torn last line; it is skipped.
    for_each_sample(std::io::BufReader::new(file), |sample| {
        for (series, v) in sample.metrics {
            let Some(slot) = counter_of(&series) else {
                continue;
            };
            let prev = last.insert((sample.node.clone(), series), v).unwrap_or(0.0);
            totals[slot] += counter_increase(prev, v);
        }
    })
    .map_err(unreadable)?;
    Ok(RepairCounters {
        anti_entropy_bytes: totals[0],
        read_repair_writes: totals[1],
        hints_replayed: totals[2],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_survive_node_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let line = |node: &str, ae: f64, rr: f64| {
            format!(
                "{{\"time\":1,\"node\":\"{node}\",\"metrics\":{{\"converge_anti_entropy_bytes_total{{direction=\\\"sent\\\"}}\":{ae},\"converge_anti_entropy_bytes_total{{direction=\\\"received\\\"}}\":999,\"converge_read_repair_replicas_total{{mode=\\\"blocking\\\"}}\":{rr},\"converge_hints_replayed_total\":1}}}}\n"
            )
        };
        let text = [
            line("n1", 100.0, 1.0),
            line("n2", 50.0, 0.0),
            line("n1", 300.0, 4.0),
            // n1 restarted: its counters began again at zero.
            line("n1", 20.0, 2.0),
            "{\"torn".to_string(),
        ]
        .concat();
        std::fs::write(&path, text).unwrap();
        let c = repair_counters(&path).unwrap();
        assert_eq!(c.anti_entropy_bytes, 300.0 + 20.0 + 50.0);
        assert_eq!(c.read_repair_writes, 4.0 + 2.0);
        // n1 reported 1 three times: one increase, not three.
        assert_eq!(c.hints_replayed, 1.0 + 1.0);
        assert_eq!(
            repair_counters(&dir.path().join("none")).unwrap(),
            RepairCounters::default()
        );
    }

    /// The checkers' golden results (a converged run with every fault
    /// kind) measured as the sweep measures a finished run.
    #[test]
    fn a_finished_run_is_measured_from_its_results_typed_details() {
        let store = tempfile::tempdir().unwrap();
        let run = store.path().join("test/run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join(checkers::run_files::RESULTS),
            include_str!("../../../checkers/tests/fixtures/golden/results-converged.json"),
        )
        .unwrap();
        let s = summarize(store.path(), &run, &[0, 1]).unwrap();
        assert_eq!(s.run_dir, "test/run");
        assert_eq!(s.verdict, "invalid");
        assert_eq!(s.convergence_ms, Some(0.0015));
        assert_eq!(s.stale_read_rate, Some(1.0));
        assert_eq!(s.p99_latency_ms, Some(0.001));
        // The unstopped partition, 17 µs to the history's end at 25 µs.
        assert!((s.longest_partition_s - 8e-6).abs() < 1e-12);
        // All reads fell in 0..1 ms; the open last bucket holds no point.
        assert_eq!(s.t_visibility, [Some(0.0), None]);
    }

    #[test]
    fn outages_p99_and_t_visibility_come_from_the_details() {
        use checkers::perf::{Latency, LatencyByOp, LatencyByOutcome, NemesisWindow};
        let p99 = |ms: f64| {
            Some(Latency {
                count: 1,
                mean_ms: Some(ms),
                p50_ms: ms,
                p90_ms: ms,
                p95_ms: ms,
                p99_ms: ms,
                p999_ms: ms,
                max_ms: ms,
            })
        };
        let window = |fault, start_ns, stop_ns| NemesisWindow {
            fault: Some(fault),
            start_ns,
            stop_ns,
            detail: None,
        };
        let perf = PerfDetails {
            duration_ns: 10_000_000_000,
            latency: LatencyByOp {
                read: LatencyByOutcome {
                    ok: p99(12.0),
                    ..LatencyByOutcome::default()
                },
                write: LatencyByOutcome {
                    ok: p99(30.0),
                    fail: p99(900.0),
                    ..LatencyByOutcome::default()
                },
                delete: LatencyByOutcome::default(),
            },
            nemesis_windows: vec![
                window(FaultKind::Partition, 1_000_000_000, Some(4_000_000_000)),
                window(FaultKind::Clock, 0, Some(9_000_000_000)),
                window(FaultKind::Crash, 6_000_000_000, None),
            ],
            ..PerfDetails::default()
        };
        assert_eq!(worst_p99(&perf), Some(30.0));
        assert_eq!(longest_outage_s(&perf), 4.0);
        let bucket = |from_ms, to_ms, reads, fresh_share| VisibilityBucket {
            from_ms,
            to_ms,
            reads,
            fresh: 0,
            fresh_share,
        };
        let tv = [
            bucket(5, Some(10), 4, 0.5),
            bucket(10, Some(20), 0, 0.0),
            bucket(30_000, None, 3, 1.0),
        ];
        assert_eq!(fresh_share_at(&tv, 7), Some(0.5));
        assert_eq!(fresh_share_at(&tv, 10), None);
        assert_eq!(fresh_share_at(&tv, 99), None);
        assert_eq!(fresh_share_at(&tv, 40_000), None);
    }
}

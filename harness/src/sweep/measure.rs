//! What the sweep takes from one finished run: verdicts and anomaly counts
//! from results.json, repair work from the node counters in metrics.jsonl,
//! and the longest partition or outage from the fault windows.
//!
//! Node counters restart at zero when the nemesis crashes or wipes a node,
//! so totals are sums of per-sample increases with a drop read as a restart
//! (the Prometheus `increase()` rule), never the last value.

use checkers::Validity;
use checkers::metrics_file::{counter_increase, for_each_sample};
use checkers::results_file::ResultsFileError;
use reports::sweep::RunSummary;
use serde_json::Value;
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

/// Faults during which a replica misses writes and deletes.
const OUTAGE_FAULTS: [&str; 4] = ["partition", "crash", "pause", "wipe"];

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
    let convergence = r.check("convergence").map(|c| &c.details);
    let converged = convergence.and_then(|d| d["converged"].as_bool()) == Some(true);
    let staleness = r.check("staleness").map(|c| &c.details["all"]);
    let perf = r.check("perf").map(|c| &c.details);
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
            .and_then(|d| d["time_to_converge_ms"].as_f64()),
        stale_read_rate: staleness.and_then(|s| s["stale_rate"].as_f64()),
        client_ops: ops.ok + ops.info + ops.fail,
        anti_entropy_bytes: counters.anti_entropy_bytes,
        read_repair_writes: counters.read_repair_writes,
        hints_replayed: counters.hints_replayed,
        p99_latency_ms: perf.and_then(worst_p99),
        longest_partition_s: perf.map_or(0.0, longest_outage_s),
        t_visibility: points_ms
            .iter()
            .map(|p| staleness.and_then(|s| fresh_share_at(&s["t_visibility"], *p)))
            .collect(),
    })
}

/// The slowest op type's p99 over successful ops.
fn worst_p99(perf: &Value) -> Option<f64> {
    perf["latency"]
        .as_object()?
        .values()
        .filter_map(|by_outcome| by_outcome["ok"]["p99_ms"].as_f64())
        .reduce(f64::max)
}

/// The longest partition, crash, pause or wipe window, seconds. A window
/// the final heal closed has no stop; it lasted until the workload ended.
fn longest_outage_s(perf: &Value) -> f64 {
    let end = perf["duration_ns"].as_f64().unwrap_or(0.0);
    perf["nemesis_windows"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .filter(|w| OUTAGE_FAULTS.contains(&w["fault"].as_str().unwrap_or("")))
                .filter_map(|w| {
                    let start = w["start_ns"].as_f64()?;
                    let stop = w["stop_ns"].as_f64().unwrap_or(end);
                    Some((stop - start).max(0.0) / 1e9)
                })
                .fold(0.0, f64::max)
        })
        .unwrap_or(0.0)
}

/// The fresh share of the t-visibility bucket holding `point_ms`, if any
/// read fell into it.
fn fresh_share_at(buckets: &Value, point_ms: u64) -> Option<f64> {
    let b = buckets.as_array()?.iter().find(|b| {
        let from = b["from_ms"].as_u64().unwrap_or(u64::MAX);
        let to = b["to_ms"].as_u64().unwrap_or(0);
        from <= point_ms && point_ms < to
    })?;
    (b["reads"].as_u64()? > 0).then(|| b["fresh_share"].as_f64())?
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

    #[test]
    fn outages_p99_and_t_visibility_come_from_the_details() {
        let perf = serde_json::json!({
            "duration_ns": 10e9,
            "latency": {"read": {"ok": {"p99_ms": 12.0}}, "write": {"ok": {"p99_ms": 30.0}, "fail": {"p99_ms": 900.0}}},
            "nemesis_windows": [
                {"fault": "partition", "start_ns": 1e9, "stop_ns": 4e9},
                {"fault": "clock", "start_ns": 0.0, "stop_ns": 9e9},
                {"fault": "crash", "start_ns": 6e9}
            ]
        });
        assert_eq!(worst_p99(&perf), Some(30.0));
        assert_eq!(longest_outage_s(&perf), 4.0);
        let tv = serde_json::json!([
            {"from_ms": 5, "to_ms": 10, "reads": 4, "fresh_share": 0.5},
            {"from_ms": 10, "to_ms": 20, "reads": 0, "fresh_share": 0.0},
        ]);
        assert_eq!(fresh_share_at(&tv, 7), Some(0.5));
        assert_eq!(fresh_share_at(&tv, 10), None);
        assert_eq!(fresh_share_at(&tv, 99), None);
    }
}

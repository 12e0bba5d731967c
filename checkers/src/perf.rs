//! Performance: latency percentiles by op and outcome, and throughput and
//! availability per second, with the nemesis windows to lay them against.
//!
//! Latency is completion time minus invoke time, for ops that completed.
//! Per second (by completion time): `ok`, `fail` and `info` completions, and
//! availability = ok / (ok + fail + info). Informational: always valid.
//! The figures are its details, [`PerfDetails`].

use crate::context::Context;
use crate::fault::FaultKind;
use crate::fault_detail::FaultDetail;
use crate::findings::{Findings, Outcome};
use crate::ops::{OpFn, Outcome as OpOutcome};
use crate::result::{CheckDetails, Validity};
use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, Max, OrderStatistics};

const FNS: [(OpFn, &str); 3] = [
    (OpFn::Read, "read"),
    (OpFn::Write, "write"),
    (OpFn::Delete, "delete"),
];

/// The perf checker's `details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerfDetails {
    /// Latency by op and outcome.
    pub latency: LatencyByOp,
    /// Completions per bucket of `bucket_seconds`, by completion time.
    pub per_second: Vec<SecondCounts>,
    /// Seconds per `per_second` bucket (1 unless the history is very long).
    pub bucket_seconds: u64,
    /// Every fault window, in the order the faults started.
    pub nemesis_windows: Vec<NemesisWindow>,
    /// The time of the history's last event (ns since the test started).
    pub duration_ns: u64,
}

impl CheckDetails for PerfDetails {
    const CHECKER: &'static str = "perf";
}

/// Latency of each op function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyByOp {
    pub read: LatencyByOutcome,
    pub write: LatencyByOutcome,
    pub delete: LatencyByOutcome,
}

impl LatencyByOp {
    pub fn of(&self, f: OpFn) -> &LatencyByOutcome {
        match f {
            OpFn::Read => &self.read,
            OpFn::Write => &self.write,
            OpFn::Delete => &self.delete,
        }
    }

    fn of_mut(&mut self, f: OpFn) -> &mut LatencyByOutcome {
        match f {
            OpFn::Read => &mut self.read,
            OpFn::Write => &mut self.write,
            OpFn::Delete => &mut self.delete,
        }
    }
}

/// Latency of one op function by how its ops ended; an outcome no op had
/// is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyByOutcome {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Latency>,
}

impl LatencyByOutcome {
    /// The latency of ops that ended `o` (`None` for pending ops, which
    /// have none).
    pub fn of(&self, o: OpOutcome) -> Option<&Latency> {
        match o {
            OpOutcome::Ok => self.ok.as_ref(),
            OpOutcome::Fail => self.fail.as_ref(),
            OpOutcome::Info => self.info.as_ref(),
            OpOutcome::Pending => None,
        }
    }

    fn slot(&mut self, o: OpOutcome) -> Option<&mut Option<Latency>> {
        match o {
            OpOutcome::Ok => Some(&mut self.ok),
            OpOutcome::Fail => Some(&mut self.fail),
            OpOutcome::Info => Some(&mut self.info),
            OpOutcome::Pending => None,
        }
    }
}

/// Latency percentiles of at least one op, in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    /// Always set (an outcome without ops has no entry).
    pub mean_ms: Option<f64>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Completions in one bucket of the throughput series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondCounts {
    /// The bucket's first second since the test started.
    pub second: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// ok / (ok + fail + info); `None` when nothing completed.
    pub availability: Option<f64>,
}

/// One fault window ([`crate::fault_windows::FaultWindow`]) as the details
/// list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NemesisWindow {
    /// Written as the kind's name, or `""` when the start event named none.
    #[serde(with = "kind_or_empty")]
    pub fault: Option<FaultKind>,
    pub start_ns: u64,
    /// `None` when no stop event lifted it (it lasted to the end of the run).
    pub stop_ns: Option<u64>,
    pub detail: Option<FaultDetail>,
}

/// `Option<FaultKind>` as the kind's name, `""` for none.
mod kind_or_empty {
    use crate::fault::FaultKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &Option<FaultKind>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.map_or("", FaultKind::name))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FaultKind>, D::Error> {
        let name = String::deserialize(d)?;
        if name.is_empty() {
            return Ok(None);
        }
        name.parse().map(Some).map_err(serde::de::Error::custom)
    }
}
/// The most buckets the throughput series has.
const MAX_BUCKETS: u64 = 100_000;
const OUTCOMES: [OpOutcome; 3] = [OpOutcome::Ok, OpOutcome::Fail, OpOutcome::Info];

fn fn_index(f: OpFn) -> usize {
    match f {
        OpFn::Read => 0,
        OpFn::Write => 1,
        OpFn::Delete => 2,
    }
}

fn outcome_index(o: OpOutcome) -> Option<usize> {
    OUTCOMES.iter().position(|&x| x == o)
}

/// Order statistics come from statrs; the mean is summed in integer
/// nanoseconds so it does not depend on the order of the ops.
fn percentiles(ms: Vec<f64>, total_ns: u128) -> Latency {
    let n = ms.len();
    let mut data = Data::new(ms);
    Latency {
        count: n as u64,
        mean_ms: (n > 0).then(|| total_ns as f64 / n as f64 / 1e6),
        p50_ms: data.quantile(0.50),
        p90_ms: data.quantile(0.90),
        p95_ms: data.quantile(0.95),
        p99_ms: data.quantile(0.99),
        p999_ms: data.quantile(0.999),
        max_ms: data.max(),
    }
}

pub fn check(cx: &Context) -> Outcome {
    let mut fd = Findings::new("perf", cx.cfg.max_examples);
    let t = cx.table;
    let mut latencies: [[Vec<f64>; 3]; 3] = Default::default();
    let mut totals = [[0u128; 3]; 3];
    // One bucket per second, unless the history spans more than MAX_BUCKETS
    // seconds (a bogus timestamp must not allocate a huge series): then each
    // bucket covers several seconds, as `bucket_seconds` says.
    let seconds = t.last_time / 1_000_000_000 + 1;
    let bucket_seconds = seconds.div_ceil(MAX_BUCKETS).max(1);
    let bucket_ns = bucket_seconds * 1_000_000_000;
    let mut per_second = vec![[0u64; 3]; seconds.div_ceil(bucket_seconds) as usize];
    let mut pending = 0;
    for op in &t.ops {
        let Some(o) = outcome_index(op.outcome) else {
            pending += 1;
            continue;
        };
        let ns = op.complete_time.saturating_sub(op.invoke_time);
        latencies[fn_index(op.f)][o].push(ns as f64 / 1e6);
        totals[fn_index(op.f)][o] += u128::from(ns);
        per_second[(op.complete_time / bucket_ns) as usize][o] += 1;
    }
    let mut latency = LatencyByOp::default();
    for (fi, &(f, fname)) in FNS.iter().enumerate() {
        for (oi, &o) in OUTCOMES.iter().enumerate() {
            let ms = std::mem::take(&mut latencies[fi][oi]);
            fd.add(&format!("{fname}-{}", o.name()), ms.len() as u64);
            if !ms.is_empty()
                && let Some(slot) = latency.of_mut(f).slot(o)
            {
                *slot = Some(percentiles(ms, totals[fi][oi]));
            }
        }
    }
    let per_second = per_second
        .iter()
        .enumerate()
        .map(|(s, &[ok, fail, info])| {
            let done = ok + fail + info;
            SecondCounts {
                second: s as u64 * bucket_seconds,
                ok,
                fail,
                info,
                availability: (done > 0).then(|| ok as f64 / done as f64),
            }
        })
        .collect();
    let nemesis_windows = t
        .windows
        .iter()
        .map(|w| NemesisWindow {
            fault: w.fault,
            start_ns: w.start,
            stop_ns: w.stop_time(),
            detail: w.detail.clone(),
        })
        .collect();
    fd.add("ops", t.ops.len() as u64);
    fd.add("pending", pending);
    fd.add("unmatched-completions", t.unmatched_completions);
    fd.add("malformed-lines", t.malformed_lines);
    fd.add("duplicate-values", t.duplicate_values);
    fd.finish_with(
        Validity::True,
        &PerfDetails {
            latency,
            per_second,
            bucket_seconds,
            nemesis_windows,
            duration_ns: t.last_time,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_window_whose_start_named_no_fault_is_written_with_an_empty_name() {
        let w = NemesisWindow {
            fault: None,
            start_ns: 5,
            stop_ns: None,
            detail: None,
        };
        let v = json!({"fault": "", "start_ns": 5, "stop_ns": null, "detail": null});
        assert_eq!(serde_json::to_value(&w).unwrap(), v);
        assert_eq!(serde_json::from_value::<NemesisWindow>(v).unwrap(), w);
        let crash = json!({"fault": "crash", "start_ns": 5, "stop_ns": 9, "detail": null});
        assert_eq!(
            serde_json::from_value::<NemesisWindow>(crash)
                .unwrap()
                .fault,
            Some(FaultKind::Crash)
        );
    }

    #[test]
    fn outcomes_without_ops_are_absent_from_the_latency() {
        let by_outcome = LatencyByOutcome {
            info: Some(Latency {
                count: 1,
                mean_ms: Some(2.0),
                p50_ms: 2.0,
                p90_ms: 2.0,
                p95_ms: 2.0,
                p99_ms: 2.0,
                p999_ms: 2.0,
                max_ms: 2.0,
            }),
            ..LatencyByOutcome::default()
        };
        let v = serde_json::to_value(&by_outcome).unwrap();
        assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["info"]);
        assert_eq!(by_outcome.of(OpOutcome::Info).map(|l| l.p99_ms), Some(2.0));
        assert!(by_outcome.of(OpOutcome::Ok).is_none());
    }
}

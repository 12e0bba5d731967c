//! Performance: latency percentiles by op and outcome, and throughput and
//! availability per second, with the nemesis windows to lay them against.
//!
//! Latency is completion time minus invoke time, for ops that completed.
//! Per second (by completion time): `ok`, `fail` and `info` completions, and
//! availability = ok / (ok + fail + info). Informational: always valid.

use crate::context::Context;
use crate::fault::FaultKind;
use crate::findings::{Findings, Outcome};
use crate::ops::{OpFn, Outcome as OpOutcome};
use crate::result::Validity;
use serde_json::{Value, json};
use statrs::statistics::{Data, Max, OrderStatistics};

const FNS: [(OpFn, &str); 3] = [
    (OpFn::Read, "read"),
    (OpFn::Write, "write"),
    (OpFn::Delete, "delete"),
];
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
fn percentiles(ms: Vec<f64>, total_ns: u128) -> Value {
    let n = ms.len();
    let mut data = Data::new(ms);
    json!({
        "count": n,
        "mean_ms": (n > 0).then(|| total_ns as f64 / n as f64 / 1e6),
        "p50_ms": data.quantile(0.50),
        "p90_ms": data.quantile(0.90),
        "p95_ms": data.quantile(0.95),
        "p99_ms": data.quantile(0.99),
        "p999_ms": data.quantile(0.999),
        "max_ms": data.max(),
    })
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
    let mut by_op = serde_json::Map::new();
    for (fi, (_, fname)) in FNS.iter().enumerate() {
        let mut by_outcome = serde_json::Map::new();
        for (oi, o) in OUTCOMES.iter().enumerate() {
            let ms = std::mem::take(&mut latencies[fi][oi]);
            fd.add(&format!("{fname}-{}", o.name()), ms.len() as u64);
            if !ms.is_empty() {
                by_outcome.insert(o.name().to_string(), percentiles(ms, totals[fi][oi]));
            }
        }
        by_op.insert(fname.to_string(), Value::Object(by_outcome));
    }
    let series: Vec<Value> = per_second
        .iter()
        .enumerate()
        .map(|(s, &[ok, fail, info])| {
            let done = ok + fail + info;
            json!({
                "second": s as u64 * bucket_seconds,
                "ok": ok,
                "fail": fail,
                "info": info,
                "availability": (done > 0).then(|| ok as f64 / done as f64),
            })
        })
        .collect();
    let windows: Vec<Value> = t
        .windows
        .iter()
        .map(|w| {
            json!({
                // Empty when the start event named no fault.
                "fault": w.fault.map_or("", FaultKind::name),
                "start_ns": w.start,
                "stop_ns": w.stop_time(),
                "detail": w.detail,
            })
        })
        .collect();
    fd.add("ops", t.ops.len() as u64);
    fd.add("pending", pending);
    fd.add("unmatched-completions", t.unmatched_completions);
    fd.add("malformed-lines", t.malformed_lines);
    fd.add("duplicate-values", t.duplicate_values);
    fd.finish(
        Validity::True,
        json!({
            "latency": by_op,
            "per_second": series,
            "bucket_seconds": bucket_seconds,
            "nemesis_windows": windows,
            "duration_ns": t.last_time,
        }),
    )
}

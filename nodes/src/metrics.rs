//! Prometheus metrics, hand-rolled on atomics.
//!
//! The harness scrapes `/metrics` during runs, so recording must cost a few
//! relaxed atomic adds and rendering must not lock anything the data path
//! uses. The metric set is small and fixed (docs/node-api.md), which is why a
//! registry crate would buy little here.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A client operation kind, the `op` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Get,
    Put,
    Delete,
}

impl Op {
    const ALL: [Op; 3] = [Op::Get, Op::Put, Op::Delete];

    fn label(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Delete => "delete",
        }
    }
}

/// How a client operation ended, the `result` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpResult {
    Ok,
    NotFound,
    Unavailable,
    BadRequest,
}

impl OpResult {
    const ALL: [OpResult; 4] = [
        OpResult::Ok,
        OpResult::NotFound,
        OpResult::Unavailable,
        OpResult::BadRequest,
    ];

    fn label(self) -> &'static str {
        match self {
            OpResult::Ok => "ok",
            OpResult::NotFound => "not_found",
            OpResult::Unavailable => "unavailable",
            OpResult::BadRequest => "bad_request",
        }
    }
}

/// Latency bucket upper bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A cumulative-on-render latency histogram.
#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts; the last slot is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every metric this node exports.
#[derive(Debug, Default)]
pub struct Metrics {
    ops: [[AtomicU64; 4]; 3],
    latency: [Histogram; 3],
    quorum_failures: [AtomicU64; 3],
    /// Tombstones stored here; maintained by the storage writer.
    pub tombstones_live: AtomicI64,
    /// Live keys stored here; maintained by the storage writer.
    pub keys_live: AtomicI64,
    /// Tombstones removed by GC.
    pub tombstones_purged: AtomicU64,
}

impl Metrics {
    /// A zeroed metric set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one coordinated client operation.
    pub fn record_op(&self, op: Op, result: OpResult, latency: Duration) {
        let o = op as usize;
        self.ops[o][result as usize].fetch_add(1, Ordering::Relaxed);
        self.latency[o].observe(latency);
        if result == OpResult::Unavailable {
            self.quorum_failures[o].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Total ops recorded with this op and result (tests).
    pub fn op_count(&self, op: Op, result: OpResult) -> u64 {
        self.ops[op as usize][result as usize].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, clock_offset_ms: i64) -> String {
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail; the results are ignored.
        let _ = self.render_into(&mut out, clock_offset_ms);
        out
    }

    fn render_into(&self, out: &mut String, clock_offset_ms: i64) -> std::fmt::Result {
        writeln!(
            out,
            "# HELP converge_ops_total Client operations coordinated by this node."
        )?;
        writeln!(out, "# TYPE converge_ops_total counter")?;
        for op in Op::ALL {
            for result in OpResult::ALL {
                let n = self.op_count(op, result);
                writeln!(
                    out,
                    "converge_ops_total{{op=\"{}\",result=\"{}\"}} {n}",
                    op.label(),
                    result.label()
                )?;
            }
        }
        writeln!(
            out,
            "# HELP converge_op_latency_seconds Coordinator latency of client operations."
        )?;
        writeln!(out, "# TYPE converge_op_latency_seconds histogram")?;
        for op in Op::ALL {
            let h = &self.latency[op as usize];
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                writeln!(
                    out,
                    "converge_op_latency_seconds_bucket{{op=\"{}\",le=\"{bound}\"}} {cumulative}",
                    op.label()
                )?;
            }
            cumulative += h.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let l = op.label();
            writeln!(
                out,
                "converge_op_latency_seconds_bucket{{op=\"{l}\",le=\"+Inf\"}} {cumulative}"
            )?;
            let sum = h.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
            writeln!(out, "converge_op_latency_seconds_sum{{op=\"{l}\"}} {sum}")?;
            writeln!(
                out,
                "converge_op_latency_seconds_count{{op=\"{l}\"}} {cumulative}"
            )?;
        }
        writeln!(
            out,
            "# HELP converge_quorum_failures_total Client operations answered 503."
        )?;
        writeln!(out, "# TYPE converge_quorum_failures_total counter")?;
        for op in Op::ALL {
            let n = self.quorum_failures[op as usize].load(Ordering::Relaxed);
            writeln!(
                out,
                "converge_quorum_failures_total{{op=\"{}\"}} {n}",
                op.label()
            )?;
        }
        let gauges = [
            (
                "converge_tombstones_live",
                "gauge",
                "Tombstones stored on this replica.",
                self.tombstones_live.load(Ordering::Relaxed),
            ),
            (
                "converge_keys_live",
                "gauge",
                "Live keys stored on this replica.",
                self.keys_live.load(Ordering::Relaxed),
            ),
            (
                "converge_tombstones_purged_total",
                "counter",
                "Tombstones removed by GC after gc_grace.",
                self.tombstones_purged.load(Ordering::Relaxed) as i64,
            ),
            (
                "converge_clock_offset_ms",
                "gauge",
                "Clock offset set by PUT /admin/clock.",
                clock_offset_ms,
            ),
        ];
        for (name, kind, help, value) in gauges {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} {kind}")?;
            writeln!(out, "{name} {value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::new();
        m.record_op(Op::Put, OpResult::Ok, Duration::from_micros(300));
        m.record_op(Op::Put, OpResult::Unavailable, Duration::from_secs(2));
        let text = m.render(-5);
        assert!(text.contains("converge_ops_total{op=\"put\",result=\"ok\"} 1"));
        assert!(text.contains("converge_quorum_failures_total{op=\"put\"} 1"));
        assert!(text.contains("converge_op_latency_seconds_bucket{op=\"put\",le=\"0.0005\"} 1"));
        assert!(text.contains("converge_op_latency_seconds_bucket{op=\"put\",le=\"+Inf\"} 2"));
        assert!(text.contains("converge_clock_offset_ms -5"));
    }
}

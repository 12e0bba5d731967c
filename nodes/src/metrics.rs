//! Prometheus metrics, hand-rolled on atomics.
//!
//! The harness scrapes `/metrics` during runs, so recording must cost a few
//! relaxed atomic adds and rendering must not lock anything the data path
//! uses. The metric set is small and fixed (docs/node-api.md), which is why a
//! registry crate would buy little here.

use crate::config::ReadRepairMode;
use crate::types::NodeId;
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

/// Why a hint was dropped, the `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintDrop {
    /// The target had been unreachable for longer than `hints.window`.
    Window,
    /// The target already had `hints.max_per_target` hints.
    Full,
    /// The hint was older than `hints.window` when its turn to replay came.
    Expired,
}

impl HintDrop {
    const ALL: [HintDrop; 3] = [HintDrop::Window, HintDrop::Full, HintDrop::Expired];

    fn label(self) -> &'static str {
        match self {
            HintDrop::Window => "window",
            HintDrop::Full => "full",
            HintDrop::Expired => "expired",
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
    /// Reads that repaired, by mode (0 blocking, 1 async).
    read_repairs: [AtomicU64; 2],
    /// Replicas written by read repair, by mode.
    read_repair_replicas: [AtomicU64; 2],
    hints_stored: AtomicU64,
    hints_replayed: AtomicU64,
    hints_dropped: [AtomicU64; 3],
    /// LWW writes stamped again above a newer version a replica held.
    lww_pushes: AtomicU64,
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

    /// One read that repaired `replicas` stale replicas.
    pub fn record_read_repair(&self, mode: ReadRepairMode, replicas: usize) {
        let slot = usize::from(mode == ReadRepairMode::Async);
        self.read_repairs[slot].fetch_add(1, Ordering::Relaxed);
        self.read_repair_replicas[slot].fetch_add(replicas as u64, Ordering::Relaxed);
    }

    /// One LWW write pushed above a newer version (`Coordinator::write`).
    pub fn record_lww_push(&self) {
        self.lww_pushes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_hint_stored(&self) {
        self.hints_stored.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_hints_replayed(&self, n: u64) {
        self.hints_replayed.fetch_add(n, Ordering::Relaxed);
    }

    pub fn record_hint_dropped(&self, reason: HintDrop, n: u64) {
        self.hints_dropped[reason as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// Total ops recorded with this op and result (tests).
    pub fn op_count(&self, op: Op, result: OpResult) -> u64 {
        self.ops[op as usize][result as usize].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    /// `hint_backlog` is the per-target hint count (owned by `Hints`).
    pub fn render(&self, clock_offset_ms: i64, hint_backlog: &[(NodeId, u64)]) -> String {
        let mut out = String::with_capacity(8192);
        // Writing to a String cannot fail; the results are ignored.
        let _ = self.render_into(&mut out, clock_offset_ms);
        let _ = self.render_repair(&mut out, hint_backlog);
        out
    }

    fn render_repair(&self, out: &mut String, hint_backlog: &[(NodeId, u64)]) -> std::fmt::Result {
        let modes = [ReadRepairMode::Blocking, ReadRepairMode::Async];
        writeln!(
            out,
            "# HELP converge_read_repairs_total Reads that repaired at least one stale replica."
        )?;
        writeln!(out, "# TYPE converge_read_repairs_total counter")?;
        for (i, mode) in modes.iter().enumerate() {
            let n = self.read_repairs[i].load(Ordering::Relaxed);
            writeln!(
                out,
                "converge_read_repairs_total{{mode=\"{}\"}} {n}",
                mode.label()
            )?;
        }
        writeln!(
            out,
            "# HELP converge_read_repair_replicas_total Replicas written by read repair."
        )?;
        writeln!(out, "# TYPE converge_read_repair_replicas_total counter")?;
        for (i, mode) in modes.iter().enumerate() {
            let n = self.read_repair_replicas[i].load(Ordering::Relaxed);
            writeln!(
                out,
                "converge_read_repair_replicas_total{{mode=\"{}\"}} {n}",
                mode.label()
            )?;
        }
        for (name, help, value) in [
            (
                "converge_hints_stored_total",
                "Hints stored for replicas that missed a write.",
                &self.hints_stored,
            ),
            (
                "converge_hints_replayed_total",
                "Hints delivered to their replica.",
                &self.hints_replayed,
            ),
            (
                "converge_lww_pushes_total",
                "LWW writes stamped again because a replica held a newer version.",
                &self.lww_pushes,
            ),
        ] {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} counter")?;
            writeln!(out, "{name} {}", value.load(Ordering::Relaxed))?;
        }
        writeln!(
            out,
            "# HELP converge_hints_dropped_total Hints not stored or not replayed, by reason."
        )?;
        writeln!(out, "# TYPE converge_hints_dropped_total counter")?;
        for reason in HintDrop::ALL {
            let n = self.hints_dropped[reason as usize].load(Ordering::Relaxed);
            writeln!(
                out,
                "converge_hints_dropped_total{{reason=\"{}\"}} {n}",
                reason.label()
            )?;
        }
        writeln!(
            out,
            "# HELP converge_hints_backlog Hints waiting for replay, per target replica."
        )?;
        writeln!(out, "# TYPE converge_hints_backlog gauge")?;
        for (target, n) in hint_backlog {
            writeln!(out, "converge_hints_backlog{{target=\"{target}\"}} {n}")?;
        }
        Ok(())
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
        m.record_read_repair(ReadRepairMode::Async, 2);
        m.record_hint_dropped(HintDrop::Full, 3);
        let text = m.render(-5, &[(NodeId::new("n2"), 7)]);
        assert!(text.contains("converge_read_repair_replicas_total{mode=\"async\"} 2"));
        assert!(text.contains("converge_hints_dropped_total{reason=\"full\"} 3"));
        assert!(text.contains("converge_hints_backlog{target=\"n2\"} 7"));
        assert!(text.contains("converge_ops_total{op=\"put\",result=\"ok\"} 1"));
        assert!(text.contains("converge_quorum_failures_total{op=\"put\"} 1"));
        assert!(text.contains("converge_op_latency_seconds_bucket{op=\"put\",le=\"0.0005\"} 1"));
        assert!(text.contains("converge_op_latency_seconds_bucket{op=\"put\",le=\"+Inf\"} 2"));
        assert!(text.contains("converge_clock_offset_ms -5"));
    }
}

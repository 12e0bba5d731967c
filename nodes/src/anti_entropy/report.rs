//! What anti-entropy reports: the JSON of `POST /admin/anti-entropy` and the
//! Prometheus counters.

use crate::merkle::SessionStats;
use crate::types::NodeId;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What one round did, as `POST /admin/anti-entropy` reports it: the
/// sessions' counters summed over every peer (flattened into the JSON), plus
/// how long it took and which peers failed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RoundReport {
    #[serde(flatten)]
    pub totals: SessionStats,
    pub duration_ms: u64,
    /// Peers whose sessions all completed.
    pub peers_ok: Vec<String>,
    /// Peers with a failed session, and why.
    pub peers_failed: Vec<(String, String)>,
}

/// Monotonic counters for `/metrics`.
#[derive(Default)]
pub(super) struct AeMetrics {
    pub(super) rounds_ok: AtomicU64,
    pub(super) rounds_failed: AtomicU64,
    pub(super) ranges_compared: AtomicU64,
    pub(super) ranges_mismatched: AtomicU64,
    pub(super) keys_sent: AtomicU64,
    pub(super) keys_received: AtomicU64,
    pub(super) bytes_sent: AtomicU64,
    pub(super) bytes_received: AtomicU64,
    pub(super) rebuilds: AtomicU64,
    /// Unix seconds of the last fully successful round, per peer.
    pub(super) last_success: Mutex<HashMap<NodeId, u64>>,
}

impl AeMetrics {
    /// Appends the anti-entropy metrics to a Prometheus exposition.
    pub fn render_metrics(&self, out: &mut String) {
        let m = self;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut lines = String::new();
        let _ = (|| -> std::fmt::Result {
            writeln!(lines, "# TYPE converge_anti_entropy_rounds_total counter")?;
            writeln!(
                lines,
                "converge_anti_entropy_rounds_total{{result=\"ok\"}} {}",
                load(&m.rounds_ok)
            )?;
            writeln!(
                lines,
                "converge_anti_entropy_rounds_total{{result=\"failed\"}} {}",
                load(&m.rounds_failed)
            )?;
            writeln!(
                lines,
                "# TYPE converge_anti_entropy_ranges_compared_total counter"
            )?;
            writeln!(
                lines,
                "converge_anti_entropy_ranges_compared_total {}",
                load(&m.ranges_compared)
            )?;
            writeln!(
                lines,
                "# TYPE converge_anti_entropy_ranges_mismatched_total counter"
            )?;
            writeln!(
                lines,
                "converge_anti_entropy_ranges_mismatched_total {}",
                load(&m.ranges_mismatched)
            )?;
            writeln!(lines, "# TYPE converge_anti_entropy_keys_total counter")?;
            writeln!(
                lines,
                "converge_anti_entropy_keys_total{{direction=\"sent\"}} {}",
                load(&m.keys_sent)
            )?;
            writeln!(
                lines,
                "converge_anti_entropy_keys_total{{direction=\"received\"}} {}",
                load(&m.keys_received)
            )?;
            writeln!(lines, "# TYPE converge_anti_entropy_bytes_total counter")?;
            writeln!(
                lines,
                "converge_anti_entropy_bytes_total{{direction=\"sent\"}} {}",
                load(&m.bytes_sent)
            )?;
            writeln!(
                lines,
                "converge_anti_entropy_bytes_total{{direction=\"received\"}} {}",
                load(&m.bytes_received)
            )?;
            writeln!(
                lines,
                "# TYPE converge_anti_entropy_last_success_seconds gauge"
            )?;
            let last = m.last_success.lock().unwrap_or_else(|p| p.into_inner());
            let mut peers: Vec<_> = last.iter().collect();
            peers.sort();
            for (peer, t) in peers {
                writeln!(
                    lines,
                    "converge_anti_entropy_last_success_seconds{{peer=\"{peer}\"}} {t}"
                )?;
            }
            writeln!(lines, "# TYPE converge_merkle_rebuilds_total counter")?;
            writeln!(
                lines,
                "converge_merkle_rebuilds_total {}",
                load(&m.rebuilds)
            )?;
            Ok(())
        })();
        out.push_str(&lines);
    }
}

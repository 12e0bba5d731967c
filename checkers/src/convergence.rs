//! Convergence: after the final heal and wait, do all replicas agree?
//!
//! From the final state alone: for every key, each node's view (its sibling
//! values; a tombstone, or no entry at all, counts as absent) must agree by
//! the rule of [`crate::context::FinalView::agreed`]: with rf known, the
//! nodes holding values hold the same ones, at least rf of them, and no
//! tombstone stands beside them; else every node's view is the same.
//! Divergent keys are reported with each replica's view (this is their one
//! home: the lost-update and resurrection checkers judge a divergent key
//! only where any outcome of repair would be wrong), and the time from the
//! last heal to convergence comes from the summary. A final state missing a
//! node's dump, or truncated, makes the verdict `unknown`. So do hints that
//! were still waiting for replay when the wait timed out on agreeing
//! replicas (counted as `hints-not-drained`): a replayed hint can still
//! change what the replicas hold, so their agreement is not yet the end
//! state, but nothing has been shown to diverge either. Its details:
//! [`ConvergenceDetails`].

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::node_id::NodeId;
use crate::ops::OpId;
use crate::result::{CheckDetails, Validity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many of the writes behind a divergent key's values an example shows.
const WRITES_SHOWN: usize = 16;

/// The convergence checker's `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConvergenceDetails {
    /// The final state was judged.
    Judged(ConvergenceFigures),
    /// It could not be (verdict `unknown`): no final state, or an
    /// incomplete one.
    Unknown { reason: String },
}

/// How the convergence wait ended, from the final state's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvergenceFigures {
    /// Whether the harness saw the replicas agree before its timeout.
    pub converged: bool,
    /// When the final heal finished (ns since the test started).
    pub healed_at_ns: u64,
    /// When agreement was first observed, if it was.
    pub converged_at_ns: Option<u64>,
    /// From the heal to agreement, in ns and in ms.
    pub time_to_converge_ns: Option<u64>,
    pub time_to_converge_ms: Option<f64>,
    /// Every node of the final state.
    pub nodes: Vec<NodeId>,
    /// Hints still waiting for replay when the wait ended, by node (empty
    /// when the backlog drained).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hints_waiting: BTreeMap<NodeId, u64>,
}

impl CheckDetails for ConvergenceDetails {
    const CHECKER: &'static str = "convergence";
}

impl ConvergenceDetails {
    /// Whether the final state was judged and the harness saw the
    /// replicas agree.
    pub fn converged(&self) -> bool {
        matches!(self, ConvergenceDetails::Judged(f) if f.converged)
    }

    /// How long after the final heal the replicas agreed, if they did.
    pub fn time_to_converge_ms(&self) -> Option<f64> {
        match self {
            ConvergenceDetails::Judged(f) => f.time_to_converge_ms,
            ConvergenceDetails::Unknown { .. } => None,
        }
    }
}

pub fn check(cx: &Context) -> Outcome {
    let mut fd = Findings::new("convergence", cx.cfg.max_examples);
    fd.declare(&["divergent-key"]);
    let unknown = |fd: Findings, reason: &str| {
        let reason = reason.to_string();
        fd.finish_with(Validity::Unknown, &ConvergenceDetails::Unknown { reason })
    };
    let Some(fv) = &cx.final_view else {
        return unknown(fd, "no final state was recorded");
    };
    if let Some(reason) = &fv.incomplete {
        return unknown(fd, reason);
    }
    let t = cx.table;
    for (&k, kf) in &fv.keys {
        if kf.agreed.is_some() {
            continue;
        }
        let views: Vec<&[u32]> = kf.views().collect();
        fd.anomaly("divergent-key", Some(k), || {
            let shown: Vec<String> = fv
                .nodes
                .iter()
                .zip(&views)
                .map(|(n, v)| {
                    if v.is_empty() {
                        format!("{n}: absent")
                    } else {
                        format!("{n}: {}", cx.values_text(v))
                    }
                })
                .collect();
            let mut writes: Vec<OpId> = views
                .iter()
                .flat_map(|v| v.iter())
                .filter_map(|&v| t.writer(v))
                .collect();
            writes.sort_unstable();
            writes.dedup();
            writes.truncate(WRITES_SHOWN);
            (format!("replicas disagree: {}", shown.join("; ")), writes)
        });
    }
    fd.add("keys", fv.keys.len() as u64);
    fd.add("nodes", fv.nodes.len() as u64);
    let s = &fv.summary;
    if !s.converged {
        fd.add("summary-not-converged", 1);
    }
    let hints_waiting: u64 = s.hints_waiting.values().sum();
    if hints_waiting > 0 {
        fd.add("hints-not-drained", hints_waiting);
    }
    let time_to_converge = s.converged_at.map(|c| c.saturating_sub(s.healed_at));
    let valid = if fd.count("divergent-key") > 0 || !s.converged {
        Validity::False
    } else if hints_waiting > 0 {
        Validity::Unknown
    } else {
        Validity::True
    };
    fd.finish_with(
        valid,
        &ConvergenceDetails::Judged(ConvergenceFigures {
            converged: s.converged,
            healed_at_ns: s.healed_at,
            converged_at_ns: s.converged_at,
            time_to_converge_ns: time_to_converge,
            time_to_converge_ms: time_to_converge.map(|n| n as f64 / 1e6),
            nodes: fv.nodes.clone(),
            hints_waiting: s.hints_waiting.clone(),
        }),
    )
}

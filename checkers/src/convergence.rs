//! Convergence: after the final heal and wait, do all replicas agree?
//!
//! From the final state alone: for every key, each node's view (its sibling
//! values; a tombstone, or no entry at all, counts as absent) must be the
//! same on every node. Divergent keys are reported with each replica's view,
//! and the time from the last heal to convergence comes from the summary.

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::ops::OpId;
use crate::result::Validity;
use serde_json::json;

/// How many of the writes behind a divergent key's values an example shows.
const WRITES_SHOWN: usize = 16;

pub fn check(cx: &Context) -> Outcome {
    let mut fd = Findings::new("convergence", cx.cfg.max_examples);
    fd.declare(&["divergent-key"]);
    let Some(fv) = &cx.final_view else {
        return fd.finish(
            Validity::Unknown,
            json!({"reason": "no final state was recorded"}),
        );
    };
    let t = cx.table;
    let rf = fv.summary.rf.map(|r| r as usize);
    for (&k, views) in &fv.per_node {
        let agree = match rf {
            // Only a key's rf replicas hold it: the holders must agree and
            // number at least rf (a replica with a tombstone or nothing, while
            // others hold values, is behind).
            Some(rf) => {
                let live: Vec<_> = views.iter().filter(|v| !v.is_empty()).collect();
                live.windows(2).all(|w| w[0] == w[1])
                    && (live.is_empty() || live.len() >= rf.min(views.len()))
            }
            None => views.windows(2).all(|w| w[0] == w[1]),
        };
        if agree {
            continue;
        }
        fd.anomaly("divergent-key", Some(k), || {
            let shown: Vec<String> = fv
                .nodes
                .iter()
                .zip(views)
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
                .flatten()
                .filter_map(|&v| t.writer(v))
                .collect();
            writes.sort_unstable();
            writes.dedup();
            writes.truncate(WRITES_SHOWN);
            (format!("replicas disagree: {}", shown.join("; ")), writes)
        });
    }
    fd.add("keys", fv.per_node.len() as u64);
    fd.add("nodes", fv.nodes.len() as u64);
    let s = &fv.summary;
    if !s.converged {
        fd.add("summary-not-converged", 1);
    }
    let time_to_converge = s.converged_at.map(|c| c.saturating_sub(s.healed_at));
    let valid = if fd.count("divergent-key") > 0 || !s.converged {
        Validity::False
    } else {
        Validity::True
    };
    fd.finish(
        valid,
        json!({
            "converged": s.converged,
            "healed_at_ns": s.healed_at,
            "converged_at_ns": s.converged_at,
            "time_to_converge_ns": time_to_converge,
            "time_to_converge_ms": time_to_converge.map(|n| n as f64 / 1e6),
            "nodes": fv.nodes,
        }),
    )
}

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
//! node's dump, or truncated, makes the verdict `unknown`.

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
    if let Some(reason) = &fv.incomplete {
        return fd.finish(Validity::Unknown, json!({"reason": reason}));
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

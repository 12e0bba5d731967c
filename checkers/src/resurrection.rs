//! Tombstone non-resurrection: deleted data must stay deleted.
//!
//! From the final state, judged per key against what the replicas converged
//! to; a divergent key only where every replica's entry resurrects:
//! - **resurrected-value**, lww: the converged state holds a value whose
//!   write completed `ok` before an acknowledged delete of the key was
//!   invoked, and no acknowledged write strictly follows that delete (if
//!   one does, the state lost that write: a lost update, counted there).
//! - **resurrected-value**, dvv: every replica holds a value that an
//!   acknowledged delete's context observed.
//!
//! From reads during the run ([`crate::quorum_reads`], quorums overlapping):
//! - **resurrection-observed**: a read returned a value that an
//!   acknowledged delete, completed before the read began, had removed. A
//!   value the final state already shows resurrected is reported once, as
//!   `resurrected-value`.
//!
//! Reported apart from lost writes because operators act on it differently
//! (tombstone GC grace, hinted handoff replay, anti-entropy of old replicas).

use crate::context::{Context, FinalView};
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, OpFn, OpId, ValueId};
use crate::quorum_reads::ReadEvidence;
use crate::result::Conflict;
use serde_json::json;
use std::collections::BTreeSet;

/// How many of the deletes that prove a resurrection an example shows.
const DELETES_SHOWN: usize = 4;

pub const RESURRECTION_OBSERVED: &str = "resurrection-observed";

pub fn check(cx: &Context, evidence: &ReadEvidence) -> Outcome {
    let mut fd = Findings::new("resurrection", cx.cfg.max_examples);
    fd.declare(&["resurrected-value", RESURRECTION_OBSERVED]);
    let t = cx.table;
    let deletes = t
        .ops
        .iter()
        .filter(|op| op.f == OpFn::Delete && op.is_ok())
        .count() as u64;
    fd.add("acknowledged-deletes", deletes);

    let judged_final = cx.judged_final();
    let mut in_final: BTreeSet<(KeyId, ValueId)> = BTreeSet::new();
    if let Some(fv) = judged_final {
        for k in 0..t.key_count() as KeyId {
            final_key(cx, fv, &mut fd, k, &mut in_final);
        }
    }
    for (&(k, v), wit) in &evidence.resurrected {
        if in_final.contains(&(k, v)) {
            continue;
        }
        fd.anomaly(RESURRECTION_OBSERVED, Some(k), || {
            let mut ops = vec![wit.read, wit.missed];
            ops.extend(wit.returned);
            (
                format!(
                    "a quorum read returned {:?} after an acknowledged delete that removed it had completed",
                    cx.value_text(v)
                ),
                ops,
            )
        });
    }
    let bad = fd.count("resurrected-value") + fd.count(RESURRECTION_OBSERVED) > 0;
    let (valid, reason) =
        cx.verdict_by_final_state(bad, "no final state: nothing to compare deletes with");
    fd.finish(
        valid,
        json!({"conflict": cx.cfg.conflict, "reason": reason}),
    )
}

/// Values of `k` in `fin` that an acknowledged delete removed, with the
/// deletes that prove it (lww: the value's write precedes the delete, and
/// no acknowledged write strictly follows the delete — if one does, the
/// final state lost that write, which the lost-updates checker reports).
pub(crate) fn resurrected_lww(
    cx: &Context,
    k: KeyId,
    fin: &[ValueId],
    ok_deletes: &[OpId],
) -> Vec<(ValueId, OpId, Vec<OpId>)> {
    let t = cx.table;
    let last_ok_write_invoke = t
        .ops_on(k)
        .iter()
        .map(|&o| t.op(o))
        .filter(|o| o.f == OpFn::Write && o.is_ok())
        .map(|o| o.invoke_time)
        .max()
        .unwrap_or(0);
    let ok_deletes: Vec<OpId> = ok_deletes
        .iter()
        .copied()
        .filter(|&d| t.op(d).complete_time >= last_ok_write_invoke)
        .collect();
    let mut out = Vec::new();
    for &v in fin {
        let Some(w) = t.writer(v).filter(|&w| t.op(w).key == k) else {
            continue;
        };
        let write = t.op(w);
        let after: Vec<OpId> = ok_deletes
            .iter()
            .copied()
            .filter(|&d| write.precedes(t.op(d)))
            .collect();
        if !after.is_empty() {
            out.push((v, w, after));
        }
    }
    out
}

fn final_key(
    cx: &Context,
    fv: &FinalView,
    fd: &mut Findings,
    k: KeyId,
    in_final: &mut BTreeSet<(KeyId, ValueId)>,
) {
    let t = cx.table;
    let ops = t.ops_on(k);
    let ok_deletes: Vec<OpId> = ops
        .iter()
        .copied()
        .filter(|&id| t.op(id).f == OpFn::Delete && t.op(id).is_ok())
        .collect();
    if ok_deletes.is_empty() || fv.values(k).is_empty() {
        return;
    }
    let agreed = fv.agreed(k);
    match cx.cfg.conflict {
        Conflict::Lww => {
            // Every state the key may end in must resurrect something.
            let found = match (agreed, fv.keys.get(&k)) {
                (Some(view), _) => resurrected_lww(cx, k, view, &ok_deletes),
                (None, Some(kf)) => {
                    let per: Vec<_> = kf
                        .candidates()
                        .into_iter()
                        .map(|c| resurrected_lww(cx, k, c, &ok_deletes))
                        .collect();
                    if per.iter().all(|p| !p.is_empty()) {
                        per.into_iter().next().unwrap_or_default()
                    } else {
                        Vec::new()
                    }
                }
                (None, None) => Vec::new(),
            };
            let divergent = agreed.is_none();
            for (v, w, after) in found {
                in_final.insert((k, v));
                fd.anomaly("resurrected-value", Some(k), || {
                    let mut ops = vec![w];
                    ops.extend(after.iter().take(DELETES_SHOWN));
                    let state = if divergent {
                        "every replica's entry would bring back a deleted value; one holds"
                    } else {
                        "the replicas converged on"
                    };
                    (
                        format!(
                            "{state} {:?}, whose write completed before {} acknowledged delete(s) of the key were invoked",
                            cx.value_text(v),
                            after.len()
                        ),
                        ops,
                    )
                });
            }
        }
        Conflict::Dvv => {
            let survivors = fv.survivors(k);
            for &d in &ok_deletes {
                for &v in t.vals(t.op(d)) {
                    if survivors.binary_search(&v).is_ok() && in_final.insert((k, v)) {
                        fd.anomaly("resurrected-value", Some(k), || {
                            let mut ops = vec![d];
                            ops.extend(t.writer(v));
                            (
                                format!(
                                    "every replica holds {:?}, which an acknowledged delete's context observed (and so removed)",
                                    cx.value_text(v)
                                ),
                                ops,
                            )
                        });
                    }
                }
            }
        }
    }
}

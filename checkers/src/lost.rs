//! Lost updates: acknowledged writes whose effect is gone and that nothing
//! that may have happened explains.
//!
//! From the final state, judged per key against what the replicas converged
//! to ([`crate::context::FinalView::agreed`]). A key that did not converge
//! is the convergence checker's divergent key; it is judged here only where
//! the verdict cannot depend on which replica wins:
//! - **lost-write**, lww: an `ok` write `a` whose value the converged state
//!   lacks, where every op that could have produced that state strictly
//!   precedes `a`: the final value's write completed before `a` was invoked,
//!   or (key absent) every delete that may have happened completed before
//!   `a` was invoked (or there is no such delete); and no `ok` write or
//!   delete strictly follows `a` (one that does superseded it, and the
//!   anomaly is that later op's: its loss, or the resurrection an undone
//!   delete is, reported by [`crate::resurrection`]); nor when the final
//!   state is one the resurrection checker reports (a value an
//!   acknowledged delete removed, no acknowledged write strictly after that
//!   delete): a write concurrent with that delete may have been deleted by
//!   it, and the state is counted once, as a resurrection. On a divergent key
//!   `a` is lost only if this holds for every replica's entry, each a state
//!   the key could still converge to.
//! - **lost-write**, dvv: an `ok` write's value that no replica holds and no
//!   op that may have happened observed with its context (merging replicas
//!   never brings a value back, so this holds whether or not the key
//!   converged).
//! - **superseded-value-survived**, dvv: a value an `ok` write's context
//!   observed (so the write superseded it) survives on every replica, and
//!   no `ok` delete observed it (that is a resurrection).
//! - **lww-siblings**: one replica's own entry holds more than one value
//!   under lww.
//!
//! From reads during the run ([`crate::quorum_reads`], quorums overlapping):
//! - **lost-write-observed**: a read missed an `ok` write that completed
//!   before it began, and the write never became visible again. A write
//!   the final state already proves lost is reported once, as `lost-write`.
//!
//! Indeterminate ops may explain the final state but are never lost; `fail`
//! ops explain nothing. With an incomplete final state (a node's dump
//! missing, a torn file) only the read-based kind is judged; without
//! anomalies the verdict is then `unknown`.

use crate::context::{Context, FinalView};
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, NEVER, NONE, OpFn, OpId, ValueId};
use crate::quorum_reads::ReadEvidence;
use crate::result::Conflict;
use serde_json::json;
use std::collections::BTreeSet;

pub const LOST_WRITE_OBSERVED: &str = "lost-write-observed";

pub fn check(cx: &Context, evidence: &ReadEvidence) -> Outcome {
    let mut fd = Findings::new("lost-updates", cx.cfg.max_examples);
    let kinds: &[&str] = match cx.cfg.conflict {
        Conflict::Lww => &["lost-write", LOST_WRITE_OBSERVED, "lww-siblings"],
        Conflict::Dvv => &[
            "lost-write",
            LOST_WRITE_OBSERVED,
            "superseded-value-survived",
        ],
    };
    fd.declare(kinds);
    let t = cx.table;
    let acknowledged = t
        .ops
        .iter()
        .filter(|op| op.f == OpFn::Write && op.is_ok())
        .count() as u64;
    fd.add("acknowledged-writes", acknowledged);

    // From the final state, when there is a trustworthy one.
    let judged_final = cx.judged_final();
    let mut lost_in_final: BTreeSet<OpId> = BTreeSet::new();
    if let Some(fv) = judged_final {
        let mut divergent = 0;
        for k in 0..t.key_count() as KeyId {
            if fv.agreed(k).is_none() {
                divergent += 1;
            }
            match cx.cfg.conflict {
                Conflict::Lww => lww_key(cx, fv, &mut fd, k, &mut lost_in_final),
                Conflict::Dvv => dvv_key(cx, fv, &mut fd, k, &mut lost_in_final),
            }
        }
        fd.add("divergent-keys", divergent);
    }

    // From reads, each write once.
    for (&w, wit) in &evidence.lost {
        if lost_in_final.contains(&w) {
            continue;
        }
        let a = t.op(w);
        fd.anomaly(LOST_WRITE_OBSERVED, Some(a.key), || {
            let r = t.op(wit.read);
            let mut ops = vec![w, wit.read];
            ops.extend(wit.returned);
            (
                format!(
                    "acknowledged write of {:?} completed before a quorum read began, yet the read returned {} and no later read or replica ever showed the write again",
                    cx.value_text(a.value().unwrap_or(NONE)),
                    cx.values_text(t.vals(r))
                ),
                ops,
            )
        });
    }

    let bad = kinds.iter().any(|k| fd.count(k) > 0);
    let (valid, reason) = cx.verdict_by_final_state(
        bad,
        "no final state: nothing to compare acknowledged writes with",
    );
    fd.finish(
        valid,
        json!({"conflict": cx.cfg.conflict, "reason": reason}),
    )
}

/// What could still explain a key's final state under lww: the latest time
/// at which an op that could have produced it may have taken effect (`None`:
/// nothing can), and those ops.
struct Explained {
    deadline: Option<u64>,
    explainers: Vec<OpId>,
}

fn explain_lww(cx: &Context, k: KeyId, fin: &[ValueId]) -> Explained {
    let t = cx.table;
    let mut explainers = Vec::new();
    let deadline = if fin.is_empty() {
        let mut best: Option<(u64, OpId)> = None;
        for &id in t.ops_on(k) {
            let op = t.op(id);
            if op.f == OpFn::Delete && op.may_have_happened() {
                let d = op.effect_deadline();
                if best.is_none_or(|(b, _)| d > b) {
                    best = Some((d, id));
                }
            }
        }
        explainers.extend(best.map(|(_, id)| id));
        best.map(|(d, _)| d)
    } else {
        let mut latest = 0;
        for &v in fin {
            match t.writer(v).filter(|&w| t.op(w).key == k) {
                // Only an `ok` write's effect time is bounded.
                Some(w) if t.op(w).is_ok() => {
                    latest = latest.max(t.op(w).complete_time);
                    explainers.push(w);
                }
                // A phantom or an indeterminate write: it could have taken
                // effect at any time, so nothing is provably lost.
                _ => latest = NEVER,
            }
        }
        Some(latest)
    };
    Explained {
        deadline,
        explainers,
    }
}

fn lww_key(
    cx: &Context,
    fv: &FinalView,
    fd: &mut Findings,
    k: KeyId,
    lost_in_final: &mut BTreeSet<OpId>,
) {
    let t = cx.table;
    if let Some(kf) = fv.keys.get(&k) {
        let crowded = kf
            .entries
            .iter()
            .zip(&fv.nodes)
            .find(|(e, _)| e.as_ref().is_some_and(|v| v.len() > 1));
        if let Some((Some(vals), node)) = crowded {
            fd.anomaly("lww-siblings", Some(k), || {
                (
                    format!(
                        "under last-writer-wins a replica holds one value per key, but {node}'s entry holds {}",
                        cx.values_text(vals)
                    ),
                    vals.iter().filter_map(|&v| t.writer(v)).collect(),
                )
            });
        }
    }
    // The states the key may end in: the agreed one, or, if the replicas
    // disagree, any replica's entry.
    let candidates: Vec<&[ValueId]> = match (fv.agreed(k), fv.keys.get(&k)) {
        (Some(view), _) => vec![view],
        (None, Some(kf)) => kf.candidates(),
        (None, None) => vec![&[]],
    };
    let explained: Vec<Explained> = candidates.iter().map(|c| explain_lww(cx, k, c)).collect();
    let divergent = candidates.len() > 1 || fv.agreed(k).is_none();
    // A write an acknowledged write or delete strictly follows was
    // superseded: if the final state shows neither, the anomaly belongs to
    // the latest acknowledged op (that write's loss, or that delete's
    // resurrection), counted once there.
    let last_ok_invoke = t
        .ops_on(k)
        .iter()
        .map(|&o| t.op(o))
        .filter(|o| o.is_mutation() && o.is_ok())
        .map(|o| o.invoke_time)
        .max()
        .unwrap_or(0);
    // A state the resurrection checker claims (it holds a value an
    // acknowledged delete removed, and no acknowledged write strictly
    // follows that delete) is that delete's undoing, counted there: the
    // writes concurrent with the delete may have been deleted by it, so
    // their absence is not a second anomaly.
    let ok_deletes: Vec<OpId> = t
        .ops_on(k)
        .iter()
        .copied()
        .filter(|&o| t.op(o).f == OpFn::Delete && t.op(o).is_ok())
        .collect();
    let resurrection_claims = !ok_deletes.is_empty()
        && candidates.iter().all(|c| {
            !c.is_empty() && !crate::resurrection::resurrected_lww(cx, k, c, &ok_deletes).is_empty()
        });
    for &id in t.ops_on(k) {
        let a = t.op(id);
        if a.f != OpFn::Write
            || !a.is_ok()
            || last_ok_invoke > a.complete_time
            || resurrection_claims
        {
            continue;
        }
        let Some(v) = a.value() else { continue };
        let lost_under = |(fin, ex): (&&[ValueId], &Explained)| {
            fin.binary_search(&v).is_err() && ex.deadline.is_none_or(|d| d < a.invoke_time)
        };
        if !candidates.iter().zip(&explained).all(lost_under) {
            continue;
        }
        lost_in_final.insert(id);
        fd.anomaly("lost-write", Some(k), || {
            let (fin, ex) = (candidates[0], &explained[0]);
            let state = if divergent {
                "whichever replica's entry wins, "
            } else {
                ""
            };
            let why = if fin.is_empty() && ex.explainers.is_empty() {
                format!("{state}the key is absent in the final state and no delete that may have happened explains it")
            } else if fin.is_empty() {
                format!("{state}the key is absent in the final state, but every delete that may have happened completed before this write was invoked")
            } else {
                format!(
                    "{state}the final state holds {}, written by an op that completed before this write was invoked",
                    cx.values_text(fin)
                )
            };
            let mut ops = vec![id];
            for ex in &explained {
                ops.extend(&ex.explainers);
            }
            (
                format!("acknowledged write of {:?} is lost: {why}", cx.value_text(v)),
                ops,
            )
        });
    }
}

fn dvv_key(
    cx: &Context,
    fv: &FinalView,
    fd: &mut Findings,
    k: KeyId,
    lost_in_final: &mut BTreeSet<OpId>,
) {
    let t = cx.table;
    let anywhere = fv.values(k);
    // Values on every replica survive whatever repair does next.
    let survivors = fv.survivors(k);
    for &id in t.ops_on(k) {
        let a = t.op(id);
        if a.f != OpFn::Write || !a.is_ok() {
            continue;
        }
        if let Some(v) = a.value()
            && anywhere.binary_search(&v).is_err()
            && cx.observations.first_possible(v) == NEVER
        {
            lost_in_final.insert(id);
            fd.anomaly("lost-write", Some(k), || {
                (
                    format!(
                        "acknowledged write of {:?} is on no replica (final siblings {}) and no op's context observed it",
                        cx.value_text(v),
                        cx.values_text(anywhere)
                    ),
                    vec![id],
                )
            });
        }
        for &old in t.vals(a) {
            // A value an acknowledged delete also observed is a
            // resurrection, counted there.
            if survivors.binary_search(&old).is_ok()
                && cx.observations.first_ok_delete(old) == NEVER
            {
                fd.anomaly("superseded-value-survived", Some(k), || {
                    let mut ops = vec![id];
                    ops.extend(t.writer(old));
                    (
                        format!(
                            "acknowledged write of {:?} superseded {:?} (its context observed it), yet every replica still holds {:?}",
                            cx.value_text(a.value().unwrap_or(NONE)),
                            cx.value_text(old),
                            cx.value_text(old)
                        ),
                        ops,
                    )
                });
            }
        }
    }
}

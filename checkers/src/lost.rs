//! Lost updates: acknowledged writes whose effect the final state does not
//! reflect, and that nothing that may have happened explains.
//!
//! - **lww**: an `ok` write `a` is lost when its value is not in the final
//!   state and every op that could have produced the final state strictly
//!   precedes `a`: the final value's write completed before `a` was invoked,
//!   or (key absent) every delete that may have happened completed before `a`
//!   was invoked (or there is no such delete). An acknowledged *delete* undone
//!   the same way is a resurrection, reported by [`crate::resurrection`].
//! - **dvv**: an `ok` write's value is lost when it is missing from the final
//!   siblings and no op that may have happened carried a context that
//!   observed it; and a value that an `ok` write's context observed (so the
//!   write superseded it) must not survive in the final siblings.
//!
//! Indeterminate ops may explain the final state but are never lost; `fail`
//! ops explain nothing.

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, NEVER, OpFn, OpId};
use crate::result::{Conflict, Validity};
use serde_json::json;

pub fn check(cx: &Context) -> Outcome {
    let mut fd = Findings::new("lost-updates", cx.cfg.max_examples);
    let kinds: &[&str] = match cx.cfg.conflict {
        Conflict::Lww => &["lost-write", "lww-siblings"],
        Conflict::Dvv => &["lost-write", "superseded-value-survived"],
    };
    fd.declare(kinds);
    let Some(fv) = &cx.final_view else {
        return fd.finish(
            Validity::Unknown,
            json!({"reason": "no final state: nothing to compare acknowledged writes with"}),
        );
    };
    let t = cx.table;
    let mut acknowledged = 0;
    for k in 0..t.key_count() as KeyId {
        let ops = t.ops_on(k);
        acknowledged += ops
            .iter()
            .filter(|&&id| t.op(id).f == OpFn::Write && t.op(id).is_ok())
            .count() as u64;
        match cx.cfg.conflict {
            Conflict::Lww => lww_key(cx, &mut fd, k, ops, fv.values(k)),
            Conflict::Dvv => dvv_key(cx, &mut fd, k, ops, fv.values(k)),
        }
    }
    fd.add("acknowledged-writes", acknowledged);
    let bad = kinds.iter().any(|k| fd.count(k) > 0);
    let valid = if bad { Validity::False } else { Validity::True };
    fd.finish(valid, json!({"conflict": cx.cfg.conflict}))
}

fn lww_key(cx: &Context, fd: &mut Findings, k: KeyId, ops: &[OpId], fin: &[u32]) {
    let t = cx.table;
    if fin.len() > 1 {
        fd.anomaly("lww-siblings", Some(k), || {
            (
                format!(
                    "under last-writer-wins a key holds one value, but the final state holds {}",
                    cx.values_text(fin)
                ),
                fin.iter().filter_map(|&v| t.writer(v)).collect(),
            )
        });
    }
    // The latest time at which any op that could have produced the final
    // state may have taken effect, and those ops. `None`: nothing can.
    let mut explainers: Vec<OpId> = Vec::new();
    let deadline: Option<u64> = if fin.is_empty() {
        let mut best: Option<(u64, OpId)> = None;
        for &id in ops {
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
    for &id in ops {
        let a = t.op(id);
        if a.f != OpFn::Write || !a.is_ok() {
            continue;
        }
        let Some(v) = a.value() else { continue };
        if fin.binary_search(&v).is_ok() {
            continue;
        }
        if deadline.is_some_and(|d| d >= a.invoke_time) {
            continue;
        }
        fd.anomaly("lost-write", Some(k), || {
            let why = if fin.is_empty() && explainers.is_empty() {
                "the key is absent in the final state and no delete that may have happened explains it".to_string()
            } else if fin.is_empty() {
                "the key is absent in the final state, but every delete that may have happened completed before this write was invoked".to_string()
            } else {
                format!(
                    "the final state holds {}, written by an op that completed before this write was invoked",
                    cx.values_text(fin)
                )
            };
            let mut ops = vec![id];
            ops.extend(&explainers);
            (
                format!("acknowledged write of {:?} is lost: {why}", cx.value_text(v)),
                ops,
            )
        });
    }
}

fn dvv_key(cx: &Context, fd: &mut Findings, k: KeyId, ops: &[OpId], fin: &[u32]) {
    let t = cx.table;
    for &id in ops {
        let a = t.op(id);
        if a.f != OpFn::Write || !a.is_ok() {
            continue;
        }
        if let Some(v) = a.value()
            && fin.binary_search(&v).is_err()
            && cx.observations.first_possible(v) == NEVER
        {
            fd.anomaly("lost-write", Some(k), || {
                (
                    format!(
                        "acknowledged write of {:?} is missing from the final siblings {} and no op's context observed it",
                        cx.value_text(v),
                        cx.values_text(fin)
                    ),
                    vec![id],
                )
            });
        }
        for &old in t.vals(a) {
            if fin.binary_search(&old).is_ok() {
                fd.anomaly("superseded-value-survived", Some(k), || {
                    let mut ops = vec![id];
                    ops.extend(t.writer(old));
                    (
                        format!(
                            "acknowledged write of {:?} superseded {:?} (its context observed it), yet {:?} is in the final siblings",
                            cx.value_text(a.value().unwrap_or(crate::ops::NONE)),
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

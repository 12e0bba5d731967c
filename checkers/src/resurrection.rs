//! Tombstone non-resurrection: deleted data must stay deleted.
//!
//! - **lww**: the final state holds a value whose write completed `ok`
//!   before an acknowledged delete of the key was invoked.
//! - **dvv**: the final state holds a value that an acknowledged delete's
//!   context observed.
//!
//! Reported apart from lost writes because operators act on it differently
//! (tombstone GC grace, hinted handoff replay, anti-entropy of old replicas).

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, OpFn, OpId};
use crate::result::{Conflict, Validity};
use serde_json::json;

/// How many of the deletes that prove a resurrection an example shows.
const DELETES_SHOWN: usize = 4;

pub fn check(cx: &Context) -> Outcome {
    let mut fd = Findings::new("resurrection", cx.cfg.max_examples);
    fd.declare(&["resurrected-value"]);
    let Some(fv) = &cx.final_view else {
        return fd.finish(
            Validity::Unknown,
            json!({"reason": "no final state: nothing to compare deletes with"}),
        );
    };
    let t = cx.table;
    let mut deletes = 0;
    for k in 0..t.key_count() as KeyId {
        let ops = t.ops_on(k);
        let fin = fv.values(k);
        let ok_deletes: Vec<OpId> = ops
            .iter()
            .copied()
            .filter(|&id| t.op(id).f == OpFn::Delete && t.op(id).is_ok())
            .collect();
        deletes += ok_deletes.len() as u64;
        if fin.is_empty() || ok_deletes.is_empty() {
            continue;
        }
        match cx.cfg.conflict {
            Conflict::Lww => {
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
                    if after.is_empty() {
                        continue;
                    }
                    fd.anomaly("resurrected-value", Some(k), || {
                        let mut ops = vec![w];
                        ops.extend(after.iter().take(DELETES_SHOWN));
                        (
                            format!(
                                "the final state holds {:?}, whose write completed before {} acknowledged delete(s) of the key were invoked",
                                cx.value_text(v),
                                after.len()
                            ),
                            ops,
                        )
                    });
                }
            }
            Conflict::Dvv => {
                for &d in &ok_deletes {
                    for &v in t.vals(t.op(d)) {
                        if fin.binary_search(&v).is_ok() {
                            fd.anomaly("resurrected-value", Some(k), || {
                                let mut ops = vec![d];
                                ops.extend(t.writer(v));
                                (
                                    format!(
                                        "the final state holds {:?}, which an acknowledged delete's context observed (and so removed)",
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
    fd.add("acknowledged-deletes", deletes);
    let valid = if fd.count("resurrected-value") > 0 {
        Validity::False
    } else {
        Validity::True
    };
    fd.finish(valid, json!({"conflict": cx.cfg.conflict}))
}

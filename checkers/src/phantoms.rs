//! Phantoms: values that no write could have produced.
//!
//! Values are unique per run, so a value read (or held in the final state)
//! names exactly one write. It is a phantom when no write of that value to
//! that key was ever invoked: corruption, always invalid. Two related
//! impossibilities are reported here too: a value whose only write `fail`ed
//! (which surely did not take effect), and a read that returned a value whose
//! write was invoked only after the read completed (a read from the future).

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, OpFn, OpId, Outcome as OpOutcome};
use crate::result::Validity;
use serde_json::json;

const KINDS: [&str; 5] = [
    "phantom-read",
    "phantom-final-value",
    "failed-write-read",
    "failed-write-in-final",
    "future-read",
];

pub fn check(cx: &Context) -> Outcome {
    let mut fd = Findings::new("phantoms", cx.cfg.max_examples);
    fd.declare(&KINDS);
    let t = cx.table;
    let mut reads = 0;
    // Reads are judged one by one, so walk the op table in order (sequential
    // memory) rather than key by key.
    for (id, r) in t.ops.iter().enumerate() {
        let id = id as OpId;
        if r.f != OpFn::Read || !r.is_ok() {
            continue;
        }
        let k = r.key;
        reads += 1;
        for &v in t.vals(r) {
            let writer = t.writer(v).filter(|&w| t.op(w).key == k);
            match writer {
                None => fd.anomaly("phantom-read", Some(k), || {
                    (
                        format!(
                            "read returned {:?}, which no write to this key ever wrote",
                            cx.value_text(v)
                        ),
                        vec![id],
                    )
                }),
                Some(w) if t.op(w).outcome == OpOutcome::Fail => {
                    fd.anomaly("failed-write-read", Some(k), || {
                        (
                            format!(
                                "read returned {:?}, whose write failed (surely did not take effect)",
                                cx.value_text(v)
                            ),
                            vec![w, id],
                        )
                    })
                }
                Some(w) if t.op(w).invoke_time > r.complete_time => {
                    fd.anomaly("future-read", Some(k), || {
                        (
                            format!(
                                "read returned {:?} before its write was even invoked",
                                cx.value_text(v)
                            ),
                            vec![id, w],
                        )
                    })
                }
                Some(_) => {}
            }
        }
    }
    if let Some(fv) = &cx.final_view {
        for k in 0..t.key_count() as KeyId {
            for &v in fv.values(k) {
                match t.writer(v).filter(|&w| t.op(w).key == k) {
                    None => fd.anomaly("phantom-final-value", Some(k), || {
                        (
                            format!("the final state holds {:?}, which no write to this key ever wrote", cx.value_text(v)),
                            Vec::new(),
                        )
                    }),
                    Some(w) if t.op(w).outcome == OpOutcome::Fail => {
                        fd.anomaly("failed-write-in-final", Some(k), || {
                            (
                                format!("the final state holds {:?}, whose write failed (surely did not take effect)", cx.value_text(v)),
                                vec![w],
                            )
                        })
                    }
                    Some(_) => {}
                }
            }
        }
    }
    fd.add("reads", reads);
    let valid = if KINDS.iter().any(|k| fd.count(k) > 0) {
        Validity::False
    } else {
        Validity::True
    };
    fd.finish(
        valid,
        json!({"final_state_checked": cx.final_view.is_some()}),
    )
}

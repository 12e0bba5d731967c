//! Session guarantees, per client process and key (Terry et al., 1994).
//!
//! - **read-your-writes**: after a process's `ok` write of `v`, its later
//!   `ok` reads of the key return `v` or something newer. Under lww a read
//!   violates it when every value it returned was written by a write that
//!   strictly precedes the process's last `ok` write or delete, or when it
//!   returns nothing after the process wrote and no delete that may have
//!   happened explains it (invoked before the read completed, not strictly
//!   preceding the write). Under dvv: the read misses `v` and no possible op
//!   observed `v` before the read completed, or it returns a value that the
//!   process's own last write or delete superseded.
//! - **monotonic reads**: a process's later `ok` read of a key never returns
//!   an older state than its earlier one: lww — every value returned strictly
//!   precedes a value read before, or the earlier value vanished with no
//!   delete to explain it; dvv — it returns a value an earlier-read value's
//!   write superseded, or misses an earlier-read value nothing observed.
//!
//! Violations fail the run only when configured (`sessions_fail`).

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, OpFn, OpId, OpRecord, ValueId};
use crate::result::{Conflict, Validity};
use crate::timeline::{KeyTimeline, delete_explains_absence};
use hashbrown::HashMap;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, Copy)]
struct Session {
    last_mutation: Option<OpId>,
    last_read: Option<OpId>,
}

pub struct Sessions {
    fd: Findings,
    state: HashMap<u32, Session>,
    /// Per process: (read-your-writes, monotonic-reads) violations.
    per_process: BTreeMap<u32, (u64, u64)>,
    reads: u64,
}

impl Sessions {
    pub fn new(cx: &Context) -> Sessions {
        let mut fd = Findings::new("sessions", cx.cfg.max_examples);
        fd.declare(&["read-your-writes", "monotonic-reads"]);
        Sessions {
            fd,
            state: HashMap::new(),
            per_process: BTreeMap::new(),
            reads: 0,
        }
    }

    /// Walks key `k`'s ops in invoke order; each process's ops on the key
    /// come in its session order, since a process runs one op at a time.
    pub fn key(&mut self, cx: &Context, k: KeyId, ops: &[OpId], tl: &KeyTimeline) {
        let t = cx.table;
        self.state.clear();
        for &id in ops {
            let op = t.op(id);
            if !op.is_ok() {
                continue;
            }
            let s = self.state.entry(op.process).or_default();
            if op.is_mutation() {
                s.last_mutation = Some(id);
                continue;
            }
            if op.f != OpFn::Read {
                continue;
            }
            self.reads += 1;
            let session = *s;
            s.last_read = Some(id);
            if let Some(x) = session.last_mutation
                && !reads_own_write(cx, k, t.op(x), op, tl)
            {
                self.per_process.entry(op.process).or_default().0 += 1;
                self.fd.anomaly("read-your-writes", Some(k), || {
                    (
                        format!(
                            "process {} read {} after its own acknowledged {}, which that read does not reflect",
                            op.process,
                            cx.values_text(t.vals(op)),
                            describe(cx, t.op(x))
                        ),
                        vec![x, id],
                    )
                });
            }
            if let Some(prev) = session.last_read
                && !monotonic(cx, k, t.op(prev), op, tl)
            {
                self.per_process.entry(op.process).or_default().1 += 1;
                self.fd.anomaly("monotonic-reads", Some(k), || {
                    (
                        format!(
                            "process {} read {} after having read {}, an older state",
                            op.process,
                            cx.values_text(t.vals(op)),
                            cx.values_text(t.vals(t.op(prev)))
                        ),
                        vec![prev, id],
                    )
                });
            }
        }
    }

    pub fn finish(mut self, cx: &Context) -> Outcome {
        self.fd.add("reads", self.reads);
        let violations = self.fd.count("read-your-writes") + self.fd.count("monotonic-reads");
        let valid = if cx.cfg.sessions_fail && violations > 0 {
            Validity::False
        } else {
            Validity::True
        };
        let per_process: BTreeMap<String, _> = self
            .per_process
            .iter()
            .map(|(p, (ryw, mr))| {
                (
                    p.to_string(),
                    json!({"read_your_writes": ryw, "monotonic_reads": mr}),
                )
            })
            .collect();
        self.fd.finish(
            valid,
            json!({"fails_run": cx.cfg.sessions_fail, "violations_by_process": per_process}),
        )
    }
}

fn describe(cx: &Context, op: &OpRecord) -> String {
    match op.value() {
        Some(v) => format!("write of {:?}", cx.value_text(v)),
        None => "delete".to_string(),
    }
}

/// The write (on this key) of a value, if any.
fn writer_on<'a>(cx: &Context<'a>, k: KeyId, v: ValueId) -> Option<&'a OpRecord> {
    cx.table
        .writer(v)
        .map(|w| cx.table.op(w))
        .filter(|w| w.key == k)
}

/// Whether every value has a known writer on this key.
fn all_known(cx: &Context, k: KeyId, vals: &[ValueId]) -> bool {
    vals.iter().all(|&v| writer_on(cx, k, v).is_some())
}

/// Whether every value's writer strictly precedes `later` (values must have
/// known writers).
fn all_precede(cx: &Context, k: KeyId, vals: &[ValueId], later: &OpRecord) -> bool {
    vals.iter()
        .all(|&v| writer_on(cx, k, v).is_some_and(|w| w.precedes(later)))
}

fn reads_own_write(cx: &Context, k: KeyId, x: &OpRecord, r: &OpRecord, tl: &KeyTimeline) -> bool {
    let t = cx.table;
    let vals = t.vals(r);
    match cx.cfg.conflict {
        Conflict::Lww => {
            if x.value().is_some_and(|v| vals.contains(&v)) {
                return true;
            }
            if vals.is_empty() {
                return x.f == OpFn::Delete
                    || delete_explains_absence(tl, x.invoke_time, r.complete_time);
            }
            !all_known(cx, k, vals) || !all_precede(cx, k, vals, x)
        }
        Conflict::Dvv => {
            let superseded_seen = vals.iter().any(|v| t.vals(x).contains(v));
            let own_missing = x.value().is_some_and(|v| {
                !vals.contains(&v) && cx.observations.first_possible(v) >= r.complete_time
            });
            !superseded_seen && !own_missing
        }
    }
}

fn monotonic(cx: &Context, k: KeyId, r1: &OpRecord, r2: &OpRecord, tl: &KeyTimeline) -> bool {
    let t = cx.table;
    let (v1, v2) = (t.vals(r1), t.vals(r2));
    if v1.is_empty() {
        return true;
    }
    match cx.cfg.conflict {
        Conflict::Lww => {
            if !all_known(cx, k, v1) {
                return true;
            }
            let w1 = v1.iter().filter_map(|&v| writer_on(cx, k, v));
            if v2.is_empty() {
                return w1
                    .clone()
                    .all(|w| delete_explains_absence(tl, w.invoke_time, r2.complete_time));
            }
            if !all_known(cx, k, v2) {
                return true;
            }
            !w1.clone().any(|a| all_precede(cx, k, v2, a))
        }
        Conflict::Dvv => {
            let vanished = v1
                .iter()
                .any(|u| !v2.contains(u) && cx.observations.first_possible(*u) >= r2.complete_time);
            let went_back = v1.iter().any(|&u| {
                t.writer(u)
                    .is_some_and(|w| t.vals(t.op(w)).iter().any(|old| v2.contains(old)))
            });
            !vanished && !went_back
        }
    }
}

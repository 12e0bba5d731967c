//! Staleness, as probabilistically bounded staleness (PBS; Bailis et al.,
//! VLDB 2012) measures it.
//!
//! A read is **stale** when a value it returned was written strictly before
//! another write or delete of the key that completed before the read began:
//! - **lww**: value `v`'s write `w` completed `ok`, and some `ok` write or
//!   delete invoked after `w` completed itself completed before the read was
//!   invoked. An empty read is stale when an `ok` write completed before the
//!   read began and was invoked after every delete that may explain the
//!   absence (deletes invoked before the read completed; the initial empty
//!   state precedes everything).
//! - **dvv**: some `ok` op whose context observed `v` (and so superseded it)
//!   completed before the read began. Blind dvv writes supersede nothing, so
//!   they never make a read stale.
//!
//! **k-staleness** is how many such newer versions had completed before the
//! read began. **t-visibility** is the share of fresh reads as a function of
//! the time between the latest `ok` mutation's completion and the read's
//! invoke. Figures are given overall and for reads that overlap no fault
//! window (from the nemesis `start`/`stop` events).
//!
//! With `R + W ≤ N` (or quorums unknown) staleness is a measurement: a
//! failure only when a threshold on the stale-read rate is configured. With
//! `R + W > N` every read is also judged by [`crate::quorum_reads`]: a stale
//! read there is a lost write, a resurrection (both reported by their own
//! checkers) or a **stale-read-under-quorum-overlap**, which fails the run.
//! The PBS figures still count every stale read.

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, NEVER, OpFn, OpId, ValueId};
use crate::quorum_reads::{Judgement, QuorumReads, ReadEvidence};
use crate::result::{Conflict, Validity};
use crate::timeline::KeyTimeline;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Upper bounds (ms) of the t-visibility buckets; a last bucket takes the rest.
const BUCKET_MS: [u64; 14] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000,
];

#[derive(Debug, Default)]
struct Stats {
    reads: u64,
    stale: u64,
    k_sum: u64,
    k_max: u64,
    k_histogram: BTreeMap<u64, u64>,
    /// Per bucket: (reads, fresh reads).
    visibility: [(u64, u64); BUCKET_MS.len() + 1],
}

impl Stats {
    fn add(&mut self, k: u64, since_ns: Option<u64>) {
        self.reads += 1;
        if k > 0 {
            self.stale += 1;
            self.k_sum += k;
            self.k_max = self.k_max.max(k);
            *self.k_histogram.entry(k).or_insert(0) += 1;
        }
        if let Some(ns) = since_ns {
            let ms = ns / 1_000_000;
            let b = BUCKET_MS.partition_point(|&hi| hi <= ms);
            self.visibility[b].0 += 1;
            if k == 0 {
                self.visibility[b].1 += 1;
            }
        }
    }

    fn rate(&self) -> Option<f64> {
        (self.reads > 0).then(|| self.stale as f64 / self.reads as f64)
    }

    fn to_json(&self) -> Value {
        let visibility: Vec<Value> = self
            .visibility
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| *n > 0)
            .map(|(i, &(n, fresh))| {
                json!({
                    "from_ms": if i == 0 { 0 } else { BUCKET_MS[i - 1] },
                    "to_ms": BUCKET_MS.get(i),
                    "reads": n,
                    "fresh": fresh,
                    "fresh_share": fresh as f64 / n as f64,
                })
            })
            .collect();
        json!({
            "reads": self.reads,
            "stale_reads": self.stale,
            "stale_rate": self.rate(),
            "k_max": self.k_max,
            "k_mean_of_stale": (self.stale > 0).then(|| self.k_sum as f64 / self.stale as f64),
            "k_histogram": self.k_histogram.iter().map(|(k, n)| json!([k, n])).collect::<Vec<_>>(),
            "t_visibility": visibility,
        })
    }
}

/// The decisive kind this checker owns.
pub const STALE_UNDER_OVERLAP: &str = "stale-read-under-quorum-overlap";

pub struct Staleness {
    fd: Findings,
    all: Stats,
    outside_faults: Stats,
    /// Read-based detection, when the quorums overlap.
    quorum: Option<QuorumReads>,
}

impl Staleness {
    pub fn new(cx: &Context) -> Staleness {
        let mut fd = Findings::new("staleness", cx.cfg.max_examples);
        let quorum = QuorumReads::new(cx);
        fd.declare(&[if quorum.is_some() {
            STALE_UNDER_OVERLAP
        } else {
            "stale-read"
        }]);
        Staleness {
            fd,
            all: Stats::default(),
            outside_faults: Stats::default(),
            quorum,
        }
    }

    /// Judges every `ok` read of key `k`.
    pub fn key(&mut self, cx: &Context, k: KeyId, ops: &[OpId], tl: &KeyTimeline) {
        let t = cx.table;
        if let Some(q) = &mut self.quorum {
            q.start_key(cx, k, ops, tl);
        }
        for &id in ops {
            let r = t.op(id);
            if r.f != OpFn::Read || !r.is_ok() {
                continue;
            }
            let (stale_k, witness, superseded) = match cx.cfg.conflict {
                Conflict::Lww => {
                    let (n, w) = lww_staleness(cx, k, id, tl);
                    (n, w, None)
                }
                Conflict::Dvv => dvv_staleness(cx, id),
            };
            let since = tl
                .latest_completed_before(r.invoke_time)
                .map(|(c, _)| r.invoke_time - c);
            self.all.add(stale_k, since);
            if !t.overlaps_fault(r.invoke_time, r.complete_time) {
                self.outside_faults.add(stale_k, since);
            }
            let judged = self.quorum.as_mut().map(|q| {
                let lww_stale = (stale_k > 0).then(|| {
                    if t.vals(r).is_empty() {
                        None
                    } else {
                        witness[0]
                    }
                });
                q.judge(cx, k, ops, id, tl, lww_stale)
            });
            match judged {
                Some(Judgement::StaleUnderOverlap(missed)) => {
                    self.fd.anomaly(STALE_UNDER_OVERLAP, Some(k), || {
                        let mut ops = vec![id];
                        ops.extend(t.vals(r).iter().filter_map(|&v| t.writer(v)));
                        ops.push(missed);
                        (
                            format!(
                                "with R + W > N the read had to see the write or delete it missed, which completed before it began; it returned {} (the missed op's effect was visible again later)",
                                cx.values_text(t.vals(r))
                            ),
                            ops,
                        )
                    });
                }
                Some(_) => {}
                None if stale_k > 0 => {
                    self.fd.anomaly("stale-read", Some(k), || {
                        let mut ops = vec![id];
                        ops.extend(witness.iter().flatten());
                        // dvv: find the op whose context superseded the value
                        // only for kept examples; it is a scan of the key.
                        if let Some(v) = superseded {
                            ops.extend(t.ops_on(k).iter().copied().find(|&x| {
                                let o = t.op(x);
                                o.is_mutation()
                                    && o.is_ok()
                                    && o.complete_time < r.invoke_time
                                    && t.vals(o).contains(&v)
                            }));
                        }
                        (
                            format!(
                                "read returned {} although {stale_k} newer write(s)/delete(s) had completed before it began",
                                cx.values_text(t.vals(r))
                            ),
                            ops,
                        )
                    });
                }
                None => {}
            }
        }
    }

    /// The staleness verdict, and the read-based evidence for the
    /// lost-updates and resurrection checkers.
    pub fn finish(mut self, cx: &Context) -> (Outcome, ReadEvidence) {
        self.fd.add("reads", self.all.reads);
        self.fd
            .add("reads-outside-faults", self.outside_faults.reads);
        self.fd
            .add("stale-reads-outside-faults", self.outside_faults.stale);
        let overlap_anomalies = self.fd.count(STALE_UNDER_OVERLAP);
        let (evidence, quorum_details) = match self.quorum.take() {
            Some(q) => {
                self.fd.add("exempt-reads", q.exempt_reads);
                let details = json!({
                    "quorums_overlap": true,
                    "exempt_reads": q.exempt_reads,
                    "exemptions": q.exemptions(),
                });
                (q.evidence, details)
            }
            None => (
                ReadEvidence::default(),
                json!({"quorums_overlap": false, "quorum": cx.cfg.quorum}),
            ),
        };
        let valid = match (cx.cfg.stale_read_threshold, self.all.rate()) {
            _ if overlap_anomalies > 0 => Validity::False,
            (None, _) => Validity::True,
            (Some(_), None) => Validity::Unknown,
            (Some(th), Some(rate)) if rate > th => Validity::False,
            (Some(_), Some(_)) => Validity::True,
        };
        let details = json!({
            "conflict": cx.cfg.conflict,
            "threshold": cx.cfg.stale_read_threshold,
            "all": self.all.to_json(),
            "outside_faults": self.outside_faults.to_json(),
            "read_based": quorum_details,
        });
        (self.fd.finish(valid, details), evidence)
    }
}

/// k and a witness (stale value's write, newest superseding op) for a read.
fn lww_staleness(cx: &Context, k: KeyId, id: OpId, tl: &KeyTimeline) -> (u64, [Option<OpId>; 2]) {
    let t = cx.table;
    let r = t.op(id);
    let vals = t.vals(r);
    if vals.is_empty() {
        // Every explanation of the absence must have been superseded.
        let (n, newest) = match tl.latest_delete_invoked_before(r.complete_time) {
            None => tl.writes_before(r.invoke_time),
            Some((NEVER, _)) => (0, None),
            Some((deadline, _)) => tl.newer_writes(deadline, r.invoke_time),
        };
        let delete = tl
            .latest_delete_invoked_before(r.complete_time)
            .map(|(_, d)| d);
        return (n, [delete, newest]);
    }
    let mut worst = (0, [None, None]);
    for &v in vals {
        let Some(w) = t.writer(v).filter(|&w| t.op(w).key == k) else {
            continue;
        };
        let write = t.op(w);
        if !write.is_ok() {
            continue;
        }
        let (n, newest) = tl.newer_mutations(write.complete_time, r.invoke_time);
        if n > worst.0 {
            worst = (n, [Some(w), newest]);
        }
    }
    worst
}

/// k, the stale value's write, and the stale value for a dvv read.
fn dvv_staleness(cx: &Context, id: OpId) -> (u64, [Option<OpId>; 2], Option<ValueId>) {
    let t = cx.table;
    let r = t.op(id);
    let mut worst = (0, [None, None], None);
    for &v in t.vals(r) {
        let n = cx.observations.ok_before(v, r.invoke_time);
        if n > worst.0 {
            worst = (n, [t.writer(v), None], Some(v));
        }
    }
    worst
}

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
//! The PBS figures still count every stale read. The figures are its
//! details, [`StalenessDetails`].

use crate::context::Context;
use crate::findings::{Findings, Outcome};
use crate::ops::{KeyId, NEVER, OpFn, OpId, ValueId};
use crate::quorum_reads::{Exemption, Judgement, QuorumReads, ReadEvidence};
use crate::result::{CheckDetails, Conflict, Quorum, Validity};
use crate::timeline::KeyTimeline;
use serde::{Deserialize, Serialize};
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

    fn figures(&self) -> StalenessFigures {
        let t_visibility = self
            .visibility
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| *n > 0)
            .map(|(i, &(n, fresh))| VisibilityBucket {
                from_ms: if i == 0 { 0 } else { BUCKET_MS[i - 1] },
                to_ms: BUCKET_MS.get(i).copied(),
                reads: n,
                fresh,
                fresh_share: fresh as f64 / n as f64,
            })
            .collect();
        StalenessFigures {
            reads: self.reads,
            stale_reads: self.stale,
            stale_rate: self.rate(),
            k_max: self.k_max,
            k_mean_of_stale: (self.stale > 0).then(|| self.k_sum as f64 / self.stale as f64),
            k_histogram: self.k_histogram.iter().map(|(&k, &n)| (k, n)).collect(),
            t_visibility,
        }
    }
}

/// The staleness checker's `details`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StalenessDetails {
    pub conflict: Conflict,
    /// The stale-read rate above which the check fails, if one is set.
    pub threshold: Option<f64>,
    /// Every `ok` read.
    pub all: StalenessFigures,
    /// The `ok` reads that overlap no fault window.
    pub outside_faults: StalenessFigures,
    /// What read-based detection did.
    pub read_based: ReadBased,
}

impl CheckDetails for StalenessDetails {
    const CHECKER: &'static str = "staleness";
}

/// The PBS figures of a set of reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StalenessFigures {
    pub reads: u64,
    pub stale_reads: u64,
    /// stale_reads / reads; `None` without reads.
    pub stale_rate: Option<f64>,
    /// The largest k of a stale read (0: none was stale).
    pub k_max: u64,
    /// The mean k of the stale reads; `None` when none was stale.
    pub k_mean_of_stale: Option<f64>,
    /// (k, stale reads with that k), by k.
    pub k_histogram: Vec<(u64, u64)>,
    /// The t-visibility buckets that hold reads, by time.
    pub t_visibility: Vec<VisibilityBucket>,
}

/// Reads whose latest `ok` mutation of the key completed `from_ms..to_ms`
/// before they were invoked, and how many of them were fresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisibilityBucket {
    pub from_ms: u64,
    /// `None` for the open last bucket.
    pub to_ms: Option<u64>,
    pub reads: u64,
    pub fresh: u64,
    /// fresh / reads.
    pub fresh_share: f64,
}

/// What read-based detection ([`crate::quorum_reads`]) did, told apart by
/// `quorums_overlap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReadBased {
    /// R + W > N: every read was judged.
    Judged {
        quorums_overlap: Flag<true>,
        /// Reads a data-loss fault explained.
        exempt_reads: u64,
        /// The faults that explained them.
        exemptions: Vec<Exemption>,
    },
    /// The quorums do not overlap, or are unknown (`quorum` null): reads
    /// are only measured.
    NotJudged {
        quorums_overlap: Flag<false>,
        quorum: Option<Quorum>,
    },
}

/// A boolean field whose value is fixed by the variant holding it: writes
/// `B`, reads only `B`, so it tells an untagged enum's variants apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flag<const B: bool>;

impl<const B: bool> Serialize for Flag<B> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(B)
    }
}

impl<'de, const B: bool> Deserialize<'de> for Flag<B> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if bool::deserialize(d)? == B {
            Ok(Flag)
        } else {
            Err(serde::de::Error::custom(format!("expected {B}")))
        }
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
        let (evidence, read_based) = match self.quorum.take() {
            Some(q) => {
                self.fd.add("exempt-reads", q.exempt_reads);
                let details = ReadBased::Judged {
                    quorums_overlap: Flag,
                    exempt_reads: q.exempt_reads,
                    exemptions: q.exemptions(),
                };
                (q.evidence, details)
            }
            None => (
                ReadEvidence::default(),
                ReadBased::NotJudged {
                    quorums_overlap: Flag,
                    quorum: cx.cfg.quorum,
                },
            ),
        };
        let valid = match (cx.cfg.stale_read_threshold, self.all.rate()) {
            _ if overlap_anomalies > 0 => Validity::False,
            (None, _) => Validity::True,
            (Some(_), None) => Validity::Unknown,
            (Some(th), Some(rate)) if rate > th => Validity::False,
            (Some(_), Some(_)) => Validity::True,
        };
        let details = StalenessDetails {
            conflict: cx.cfg.conflict,
            threshold: cx.cfg.stale_read_threshold,
            all: self.all.figures(),
            outside_faults: self.outside_faults.figures(),
            read_based,
        };
        (self.fd.finish_with(valid, &details), evidence)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn read_based_details_are_told_apart_by_quorums_overlap() {
        let unknown = ReadBased::NotJudged {
            quorums_overlap: Flag,
            quorum: None,
        };
        let sloppy = ReadBased::NotJudged {
            quorums_overlap: Flag,
            quorum: Some(Quorum { n: 3, r: 1, w: 1 }),
        };
        let judged = ReadBased::Judged {
            quorums_overlap: Flag,
            exempt_reads: 0,
            exemptions: Vec::new(),
        };
        for (d, v) in [
            (&unknown, json!({"quorums_overlap": false, "quorum": null})),
            (
                &sloppy,
                json!({"quorums_overlap": false, "quorum": {"n": 3, "r": 1, "w": 1}}),
            ),
            (
                &judged,
                json!({"quorums_overlap": true, "exempt_reads": 0, "exemptions": []}),
            ),
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), v);
            assert_eq!(&serde_json::from_value::<ReadBased>(v).unwrap(), d);
        }
        // Overlapping quorums without the judged reads' figures.
        let contradictory = json!({"quorums_overlap": true, "quorum": null});
        assert!(serde_json::from_value::<ReadBased>(contradictory).is_err());
    }
}

//! Read-based detection: every `ok` read is evidence, judged while the run
//! happens rather than only against the final state.
//!
//! With strict quorums and `R + W > N`, every read quorum meets every write
//! quorum, so a read must see every write or delete that was acknowledged
//! before the read began (or something newer). A read that does not is an
//! anomaly, classified by what it missed:
//!
//! - **resurrection-observed**: the read returned a value that an `ok`
//!   delete which completed before the read began had removed (lww: the
//!   value's write completed before the delete was invoked; dvv: the
//!   delete's context observed the value).
//! - **lost-write-observed**: the read missed an `ok` write that completed
//!   before it began (lww: it returned an older value or absence; dvv: its
//!   siblings omit the write and no op that may have happened, invoked
//!   before the read completed, observed it), and the write never becomes
//!   visible again: no `ok` read invoked after this one returns it and no
//!   replica holds it in the final state. Counted once per lost write.
//! - **stale-read-under-quorum-overlap**: any other such read (the missed
//!   write shows up again later).
//!
//! Only `ok` ops bound when something took effect, so only they are
//! missed; an indeterminate write or delete may land at any time and
//! explains any read it could have preceded. One exemption: a fault that
//! legitimately takes an acknowledged write off one of the key's replicas —
//! a wipe, or a crash while the store acknowledges before fsync (within
//! [`crate::CheckConfig::crash_loss_window_ns`] of the write) — breaks
//! quorum intersection for what it took. A read is exempt when every op it
//! missed was invoked before such a fault of one of the key's replicas and
//! the fault began before the read completed; the verdict counts and names
//! the faults it used. A key's replicas are the nodes holding it in the
//! final state when at least `N` do, else every node.
//!
//! With `R + W ≤ N`, or quorums unknown, reads stay a measurement
//! ([`crate::staleness`]).

use crate::context::Context;
use crate::fault::FaultKind;
use crate::fault_detail::FaultDetail;
use crate::node_id::NodeId;
use crate::ops::{KeyId, NEVER, OpFn, OpId, OpRecord, ValueId};
use crate::result::Conflict;
use crate::timeline::KeyTimeline;
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a read-based anomaly proves, with the ops that prove it.
#[derive(Debug, Clone)]
pub struct Witness {
    /// The read that missed it.
    pub read: OpId,
    /// The op the read missed (the lost write, or the delete).
    pub missed: OpId,
    /// The write of the value the read returned instead, if any.
    pub returned: Option<OpId>,
}

/// Decisive findings that belong to other checkers' homes: lost writes to
/// `lost-updates`, resurrections to `resurrection`. Each is keyed so it is
/// counted once however many reads show it.
#[derive(Debug, Default)]
pub struct ReadEvidence {
    /// Writes proved lost, by the write; the first read that showed it.
    pub lost: BTreeMap<OpId, Witness>,
    /// Deleted values that came back, by (key, value); the first read.
    pub resurrected: BTreeMap<(KeyId, ValueId), Witness>,
}

/// How one read was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// It saw everything it had to.
    Fine,
    /// It missed something, but a data-loss fault explains it.
    Exempt,
    /// A lost write or resurrection, recorded in [`ReadEvidence`].
    Recorded,
    /// It missed a write that became visible again later; the op missed.
    StaleUnderOverlap(OpId),
}

/// A fault that exempted reads, as the staleness details list it
/// (`read_based.exemptions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exemption {
    /// A wipe, or a crash while the store acknowledges before fsync.
    pub fault: FaultKind,
    /// The replica it took writes off.
    pub node: NodeId,
    /// When the fault began (ns since the test started).
    pub at_ns: u64,
    /// The history line of its start event.
    pub history_line: u32,
    /// How many reads it exempted.
    pub reads_exempted: u64,
}

/// A fault that may legitimately take acknowledged writes off a replica.
#[derive(Debug, Clone)]
struct DataLoss {
    fault: FaultKind,
    node: NodeId,
    at: u64,
    /// Writes acknowledged more than this before `at` survive it.
    window: u64,
    line: u32,
    used: u64,
}

/// The per-run state of read-based detection.
pub struct QuorumReads {
    faults: Vec<DataLoss>,
    pub evidence: ReadEvidence,
    /// dvv: the key's `ok` writes not yet observed by any possible op, as
    /// (write, value, earliest invoke of an op observing the value).
    pending: Vec<(OpId, ValueId, u64)>,
    /// dvv: how many of the key's `ok` writes (by completion) are pending
    /// or dropped so far.
    next_write: usize,
    /// Per value of the current key, the latest invoke of an `ok` read
    /// returning it; built on first need.
    last_read: Option<HashMap<ValueId, u64>>,
    /// dvv: the current key's reads, judged in invoke-time order when the
    /// key starts (the pending set needs that order, and a history's lines
    /// need not be in it), sorted by op id for lookup.
    dvv_judged: Vec<(OpId, Judgement)>,
    /// Per read judgement counts.
    pub exempt_reads: u64,
}

impl QuorumReads {
    /// `Some` when the run's quorums overlap.
    pub fn new(cx: &Context) -> Option<QuorumReads> {
        if !cx.cfg.quorum.is_some_and(|q| q.overlaps()) {
            return None;
        }
        let mut faults = Vec::new();
        for (line, e) in &cx.table.nemesis {
            if e.f != crate::history::Function::Start {
                continue;
            }
            let (fault, window) = match e.fault {
                Some(FaultKind::Wipe) => (FaultKind::Wipe, NEVER),
                Some(FaultKind::Crash) => match cx.cfg.crash_loss_window_ns {
                    Some(w) => (FaultKind::Crash, w),
                    None => continue,
                },
                _ => continue,
            };
            let nodes = e.detail.as_ref().map_or(&[][..], FaultDetail::downed_nodes);
            for node in nodes {
                faults.push(DataLoss {
                    fault,
                    node: node.clone(),
                    at: e.time,
                    window,
                    line: *line,
                    used: 0,
                });
            }
        }
        Some(QuorumReads {
            faults,
            evidence: ReadEvidence::default(),
            pending: Vec::new(),
            next_write: 0,
            last_read: None,
            dvv_judged: Vec::new(),
            exempt_reads: 0,
        })
    }

    /// Resets the per-key state; under dvv, judges the key's reads.
    pub fn start_key(&mut self, cx: &Context, k: KeyId, ops: &[OpId], tl: &KeyTimeline) {
        self.pending.clear();
        self.next_write = 0;
        self.last_read = None;
        self.dvv_judged.clear();
        if cx.cfg.conflict != Conflict::Dvv {
            return;
        }
        let t = cx.table;
        let mut reads: Vec<OpId> = ops
            .iter()
            .copied()
            .filter(|&o| t.op(o).f == OpFn::Read && t.op(o).is_ok())
            .collect();
        reads.sort_unstable_by_key(|&o| (t.op(o).invoke_time, o));
        for id in reads {
            let j = self.judge_dvv(cx, k, ops, id, tl);
            self.dvv_judged.push((id, j));
        }
        self.dvv_judged.sort_unstable_by_key(|&(o, _)| o);
    }

    /// Judges one `ok` read of key `k`. `lww_stale` is the staleness
    /// checker's finding for lww reads: the write of the stale value it
    /// returned (`None` for an empty read), when the read was stale.
    pub fn judge(
        &mut self,
        cx: &Context,
        k: KeyId,
        ops: &[OpId],
        id: OpId,
        tl: &KeyTimeline,
        lww_stale: Option<Option<OpId>>,
    ) -> Judgement {
        match cx.cfg.conflict {
            Conflict::Lww => match lww_stale {
                Some(returned) => self.judge_lww(cx, k, ops, id, tl, returned),
                None => Judgement::Fine,
            },
            Conflict::Dvv => self
                .dvv_judged
                .binary_search_by_key(&id, |&(o, _)| o)
                .map_or(Judgement::Fine, |i| self.dvv_judged[i].1),
        }
    }

    fn judge_lww(
        &mut self,
        cx: &Context,
        k: KeyId,
        ops: &[OpId],
        id: OpId,
        tl: &KeyTimeline,
        returned: Option<OpId>,
    ) -> Judgement {
        let t = cx.table;
        let r = t.op(id);
        match returned {
            Some(w) => {
                let after = t.op(w).complete_time;
                if self.exempt(cx, k, r, |visit| {
                    tl.all_newer_mutations(after, r.invoke_time, visit)
                }) {
                    return Judgement::Exempt;
                }
                if let (_, Some(d)) = tl.newer_deletes(after, r.invoke_time) {
                    let v = t.op(w).value().unwrap_or(crate::ops::NONE);
                    self.evidence.resurrected.entry((k, v)).or_insert(Witness {
                        read: id,
                        missed: d,
                        returned: Some(w),
                    });
                    return Judgement::Recorded;
                }
                match tl.newer_writes(after, r.invoke_time) {
                    (_, Some(w2)) => self.lost_or_stale(cx, k, ops, id, w2, Some(w)),
                    // Stale only by deletes, which the branch above took.
                    (_, None) => Judgement::Fine,
                }
            }
            None => {
                // An empty read: every delete that could explain it was
                // superseded by a write that completed before the read.
                let deadline = tl
                    .latest_delete_invoked_before(r.complete_time)
                    .map(|(d, _)| d);
                if self.exempt(cx, k, r, |visit| {
                    tl.all_newer_writes(deadline, r.invoke_time, visit)
                }) {
                    return Judgement::Exempt;
                }
                let newest = match deadline {
                    Some(d) => tl.newer_writes(d, r.invoke_time).1,
                    None => tl.writes_before(r.invoke_time).1,
                };
                match newest {
                    Some(w2) => self.lost_or_stale(cx, k, ops, id, w2, None),
                    None => Judgement::Fine,
                }
            }
        }
    }

    fn judge_dvv(
        &mut self,
        cx: &Context,
        k: KeyId,
        ops: &[OpId],
        id: OpId,
        tl: &KeyTimeline,
    ) -> Judgement {
        let t = cx.table;
        let obs = &cx.observations;
        let r = t.op(id);
        let got = t.vals(r);
        // Writes that completed before the read began join the pending set;
        // those an op invoked before it began observed can never again be
        // missed by this or a later read (later reads begin later still).
        let writes = tl.ok_writes();
        while let Some(e) = writes.get(self.next_write) {
            if e.complete >= r.invoke_time {
                break;
            }
            if let Some(v) = t.op(e.id).value() {
                self.pending.push((e.id, v, obs.first_possible(v)));
            }
            self.next_write += 1;
        }
        self.pending.retain(|&(_, _, first)| first >= r.invoke_time);

        // A returned value an acknowledged delete had removed.
        for &v in got {
            if obs.first_ok_delete(v) < r.invoke_time {
                let superseders = superseding_ops(cx, ops, v, r.invoke_time);
                if self.exempt(cx, k, r, |visit| superseders.iter().all(|&s| visit(s))) {
                    return Judgement::Exempt;
                }
                let d = superseders
                    .iter()
                    .copied()
                    .find(|&s| t.op(s).f == OpFn::Delete)
                    .unwrap_or(id);
                self.evidence.resurrected.entry((k, v)).or_insert(Witness {
                    read: id,
                    missed: d,
                    returned: t.writer(v),
                });
                return Judgement::Recorded;
            }
        }
        // Acknowledged writes the siblings omit and nothing could have
        // superseded before the read completed.
        let missing: Vec<OpId> = self
            .pending
            .iter()
            .filter(|&&(_, v, first)| first >= r.complete_time && !got.contains(&v))
            .map(|&(w, _, _)| w)
            .collect();
        if let Some(&newest) = missing.iter().max_by_key(|&&w| (t.op(w).complete_time, w)) {
            if self.exempt(cx, k, r, |visit| missing.iter().all(|&w| visit(w))) {
                return Judgement::Exempt;
            }
            return self.lost_or_stale(cx, k, ops, id, newest, None);
        }
        // A returned value a completed write had superseded.
        for &v in got {
            if obs.ok_before(v, r.invoke_time) > 0 {
                let superseders = superseding_ops(cx, ops, v, r.invoke_time);
                if self.exempt(cx, k, r, |visit| superseders.iter().all(|&s| visit(s))) {
                    return Judgement::Exempt;
                }
                return Judgement::StaleUnderOverlap(superseders.last().copied().unwrap_or(id));
            }
        }
        Judgement::Fine
    }

    /// The read missed `w2`: lost if nothing ever shows `w2`'s value again.
    fn lost_or_stale(
        &mut self,
        cx: &Context,
        k: KeyId,
        ops: &[OpId],
        id: OpId,
        w2: OpId,
        returned: Option<OpId>,
    ) -> Judgement {
        let t = cx.table;
        let r = t.op(id);
        let Some(v2) = t.op(w2).value() else {
            return Judgement::StaleUnderOverlap(w2);
        };
        let last_read = self.last_read.get_or_insert_with(|| {
            let mut m = HashMap::new();
            for &o in ops {
                let op = t.op(o);
                if op.f == OpFn::Read && op.is_ok() {
                    for &v in t.vals(op) {
                        let e = m.entry(v).or_insert(0);
                        *e = (*e).max(op.invoke_time);
                    }
                }
            }
            m
        });
        let read_again = last_read.get(&v2).is_some_and(|&at| at > r.invoke_time);
        let in_final = cx.final_view.as_ref().is_some_and(|fv| fv.holds(k, v2));
        if read_again || in_final {
            return Judgement::StaleUnderOverlap(w2);
        }
        self.evidence.lost.entry(w2).or_insert(Witness {
            read: id,
            missed: w2,
            returned,
        });
        Judgement::Recorded
    }

    /// Whether a data-loss fault of one of `k`'s replicas explains every op
    /// the read `r` missed; `each_missed` calls its argument on each missed
    /// op and says whether all calls returned true. Counts the faults used.
    fn exempt(
        &mut self,
        cx: &Context,
        k: KeyId,
        r: &OpRecord,
        each_missed: impl FnOnce(&mut dyn FnMut(OpId) -> bool) -> bool,
    ) -> bool {
        if self.faults.is_empty() {
            return false;
        }
        let t = cx.table;
        let replicas = replicas_of(cx, k);
        let mut used: Vec<usize> = Vec::new();
        let faults = &self.faults;
        let mut covers = |m: OpId| {
            let m = t.op(m);
            let found = faults.iter().position(|f| {
                replicas.as_ref().is_none_or(|rs| rs.contains(&&f.node))
                    && m.invoke_time < f.at
                    && f.at < r.complete_time
                    && (f.window == NEVER || f.at <= m.complete_time.saturating_add(f.window))
            });
            if let Some(i) = found {
                used.push(i);
            }
            found.is_some()
        };
        if !each_missed(&mut covers) {
            return false;
        }
        used.sort_unstable();
        used.dedup();
        for i in used {
            self.faults[i].used += 1;
        }
        self.exempt_reads += 1;
        true
    }

    /// The faults that exempted reads, for the verdict's details.
    pub fn exemptions(&self) -> Vec<Exemption> {
        self.faults
            .iter()
            .filter(|f| f.used > 0)
            .map(|f| Exemption {
                fault: f.fault,
                node: f.node.clone(),
                at_ns: f.at,
                history_line: f.line,
                reads_exempted: f.used,
            })
            .collect()
    }
}

/// The key's replicas as the final state shows them (the nodes holding an
/// entry), when at least `N` hold it; `None` means any node may be one.
fn replicas_of<'a>(cx: &'a Context, k: KeyId) -> Option<Vec<&'a NodeId>> {
    let fv = cx.final_view.as_ref()?;
    let n = cx.cfg.quorum.map(|q| q.n as usize)?;
    let holders: Vec<&NodeId> = fv.holders(k).collect();
    (holders.len() >= n).then_some(holders)
}

/// `ok` mutations of the key whose context observed `v` and that completed
/// before `t`, in invoke order (dvv; only for reads already found wrong).
fn superseding_ops(cx: &Context, ops: &[OpId], v: ValueId, t: u64) -> Vec<OpId> {
    let table = cx.table;
    ops.iter()
        .copied()
        .filter(|&o| {
            let op = table.op(o);
            op.is_mutation() && op.is_ok() && op.complete_time < t && table.vals(op).contains(&v)
        })
        .collect()
}

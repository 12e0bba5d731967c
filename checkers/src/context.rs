//! What every checker reads: the op table, the final state as value ids, and
//! per-value facts about causal contexts, computed once.

use crate::history::{FinalLine, FinalSummary};
use crate::node_id::NodeId;
use crate::ops::{KeyId, NEVER, NONE, OpTable, ValueId};
use crate::result::CheckConfig;
use std::collections::{BTreeMap, HashMap};

/// One replica's view of one key: its sorted values (empty = absent).
pub type View = Vec<ValueId>;

/// One key in the final state: what each node holds of it, and what the
/// replicas agreed on, if they did.
#[derive(Debug, Clone)]
pub struct KeyFinal {
    /// Per node, in [`FinalView::nodes`] order: `None` when the node holds
    /// no entry of the key, `Some(empty)` for a tombstone, else its sorted
    /// sibling values.
    pub entries: Vec<Option<View>>,
    /// The view every replica agreed on ([`FinalView::agreed`] has the
    /// rule); `None` when the key did not converge.
    pub agreed: Option<View>,
}

impl KeyFinal {
    /// Each node's view with "no entry" and "tombstone" both absent.
    pub fn views(&self) -> impl Iterator<Item = &[ValueId]> {
        self.entries.iter().map(|e| e.as_deref().unwrap_or(&[]))
    }

    /// The distinct views of the nodes that hold an entry of the key: what
    /// the key could still converge to under lww, where an entry always
    /// beats no entry.
    pub fn candidates(&self) -> Vec<&[ValueId]> {
        let mut out: Vec<&[ValueId]> = self.entries.iter().flatten().map(Vec::as_slice).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Values every node holding an entry holds: under dvv, merging
    /// replicas can only drop a value some replica's context covers, so
    /// these survive whatever repair does next.
    pub fn held_by_every_entry(&self) -> Vec<ValueId> {
        let mut held = self.entries.iter().flatten();
        let Some(first) = held.next() else {
            return Vec::new();
        };
        let mut out = first.clone();
        for e in held {
            out.retain(|v| e.binary_search(v).is_ok());
        }
        out
    }
}

/// The final state, interned.
#[derive(Debug)]
pub struct FinalView {
    pub summary: FinalSummary,
    /// Every node: the summary's, then any other node that has entries.
    pub nodes: Vec<NodeId>,
    /// Why the final state cannot stand for what the replicas hold: a node's
    /// dump is missing, or the file lost entries. Checks that judge
    /// acknowledged ops by it say `unknown` with this reason.
    pub incomplete: Option<String>,
    /// Per key, the union over replicas of the values held (sorted): where a
    /// value is anywhere at all.
    union: Vec<View>,
    /// Per key that some node holds an entry of.
    pub keys: BTreeMap<KeyId, KeyFinal>,
}

impl FinalView {
    /// Builds the view; `None` when there is no summary line (no final state
    /// was taken, e.g. the harness was killed).
    pub fn build(t: &mut OpTable, lines: &[FinalLine]) -> Option<FinalView> {
        let summary = lines.iter().find_map(|l| match l {
            FinalLine::Summary(s) => Some(s.clone()),
            FinalLine::Entry(_) => None,
        })?;
        let mut nodes = summary.nodes.clone();
        let mut node_index: HashMap<NodeId, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut keys: BTreeMap<KeyId, KeyFinal> = BTreeMap::new();
        let mut entry_lines = 0u64;
        for l in lines {
            let FinalLine::Entry(e) = l else { continue };
            entry_lines += 1;
            let node = *node_index.entry(e.node.clone()).or_insert_with(|| {
                nodes.push(e.node.clone());
                nodes.len() - 1
            });
            let key = t.keys.intern(&e.key);
            let kf = keys.entry(key).or_insert_with(|| KeyFinal {
                entries: Vec::new(),
                agreed: None,
            });
            if kf.entries.len() <= node {
                kf.entries.resize(node + 1, None);
            }
            let view = kf.entries[node].get_or_insert_with(Vec::new);
            // A tombstone counts as absent, whatever values it lists.
            if !e.tombstone {
                view.extend(e.values.iter().map(|v| t.intern_value(v)));
            }
        }
        let rf = summary.rf.map(|r| r as usize);
        let mut union = vec![Vec::new(); t.keys.len()];
        for (k, kf) in keys.iter_mut() {
            kf.entries.resize(nodes.len(), None);
            for v in kf.entries.iter_mut().flatten() {
                v.sort_unstable();
                v.dedup();
            }
            kf.agreed = agreed(&kf.entries, rf);
            let u = &mut union[*k as usize];
            u.extend(kf.entries.iter().flatten().flatten().copied());
            u.sort_unstable();
            u.dedup();
        }
        let incomplete = incompleteness(&summary, entry_lines);
        Some(FinalView {
            summary,
            nodes,
            incomplete,
            union,
            keys,
        })
    }

    /// The values any replica holds for `k` (sorted; empty = absent).
    pub fn values(&self, k: KeyId) -> &[ValueId] {
        self.union.get(k as usize).map_or(&[], Vec::as_slice)
    }

    /// Whether any replica holds `v` under `k`.
    pub fn holds(&self, k: KeyId, v: ValueId) -> bool {
        self.values(k).binary_search(&v).is_ok()
    }

    /// What the replicas of `k` agreed on: `Some(empty)` for a key no
    /// replica holds a value of (also one no node holds at all), `None`
    /// when they disagree.
    pub fn agreed(&self, k: KeyId) -> Option<&[ValueId]> {
        match self.keys.get(&k) {
            None => Some(&[]),
            Some(kf) => kf.agreed.as_deref(),
        }
    }

    /// The values of `k` that survive whatever repair does next: the agreed
    /// ones, or on a divergent key those every node holding an entry holds
    /// (merging replicas can only drop a value some replica's context
    /// covers: the dvv reading of "whichever replica wins").
    pub fn survivors(&self, k: KeyId) -> Vec<ValueId> {
        match (self.agreed(k), self.keys.get(&k)) {
            (Some(view), _) => view.to_vec(),
            (None, Some(kf)) => kf.held_by_every_entry(),
            (None, None) => Vec::new(),
        }
    }

    /// The nodes that hold an entry of `k` (value or tombstone).
    pub fn holders(&self, k: KeyId) -> impl Iterator<Item = &NodeId> {
        self.keys.get(&k).into_iter().flat_map(move |kf| {
            kf.entries
                .iter()
                .zip(&self.nodes)
                .filter(|(e, _)| e.is_some())
                .map(|(_, n)| n)
        })
    }
}

/// The agreement rule (the harness's convergence wait uses the same): with
/// `rf` known, the nodes holding values must hold the same ones, number at
/// least `rf` (capped by the cluster size), and no node may hold a
/// tombstone beside them; a key that only tombstones (or nothing) stand for
/// is absent everywhere. Without `rf`, every node's view must be equal.
fn agreed(entries: &[Option<View>], rf: Option<usize>) -> Option<View> {
    fn view(e: &Option<View>) -> &[ValueId] {
        e.as_deref().unwrap_or(&[])
    }
    match rf {
        Some(rf) => {
            let live: Vec<&[ValueId]> =
                entries.iter().map(view).filter(|v| !v.is_empty()).collect();
            let Some(first) = live.first() else {
                return Some(Vec::new());
            };
            let tombstones = entries.iter().flatten().any(Vec::is_empty);
            let all_equal = live.iter().all(|v| v == first);
            (all_equal && !tombstones && live.len() >= rf.min(entries.len()))
                .then(|| first.to_vec())
        }
        None => {
            let first = entries.first().map_or(&[][..], view);
            entries
                .iter()
                .all(|e| view(e) == first)
                .then(|| first.to_vec())
        }
    }
}

/// Why a final state cannot be trusted, if it cannot: nodes whose dump the
/// harness never got, or fewer entry lines than the summary announced (a
/// torn or truncated file).
fn incompleteness(summary: &FinalSummary, entry_lines: u64) -> Option<String> {
    if !summary.missing.is_empty() {
        return Some(format!(
            "the final state lacks the dump of {} (the node did not answer), so what the replicas hold is unknown",
            summary.missing.join(", ")
        ));
    }
    match summary.entries {
        Some(n) if n != entry_lines => Some(format!(
            "final-state.jsonl announces {n} entries but holds {entry_lines}: the file is torn or truncated"
        )),
        _ => None,
    }
}

/// Per value, what causal contexts said about it (dvv only).
#[derive(Debug, Default)]
pub struct Observations {
    /// Per value, the earliest invoke of an op that may have happened (not
    /// `fail`) on the value's key whose context observed it, and the earliest
    /// completion of an `ok` such op; [`NEVER`] if none. Side by side, so the
    /// per-read questions cost one cache line.
    first: Vec<(u64, u64)>,
    /// Completion times of `ok` ops on the value's key whose context observed
    /// it, sorted, as a CSR: `ok_times[ok_start[v]..ok_start[v+1]]`.
    ok_start: Vec<u32>,
    ok_times: Vec<u64>,
    /// Per value, the earliest completion of an `ok` delete whose context
    /// observed it; [`NEVER`] if none.
    deleted: Vec<u64>,
}

impl Observations {
    fn build(t: &OpTable) -> Observations {
        let n = t.values.len();
        let mut first = vec![(NEVER, NEVER); n];
        let mut deleted = vec![NEVER; n];
        let mut pairs: Vec<(ValueId, u64)> = Vec::new();
        for op in &t.ops {
            if !op.is_mutation() || !op.may_have_happened() {
                continue;
            }
            for &v in t.vals(op) {
                let same_key = t.writer(v).is_some_and(|w| t.op(w).key == op.key);
                if !same_key {
                    continue;
                }
                let slot = &mut first[v as usize];
                slot.0 = slot.0.min(op.invoke_time);
                if op.is_ok() {
                    slot.1 = slot.1.min(op.complete_time);
                    pairs.push((v, op.complete_time));
                    if op.f == crate::ops::OpFn::Delete {
                        let d = &mut deleted[v as usize];
                        *d = (*d).min(op.complete_time);
                    }
                }
            }
        }
        // Counting sort by value into the CSR, then sort each value's few
        // times.
        let mut ok_start = vec![0u32; n + 1];
        for &(v, _) in &pairs {
            ok_start[v as usize + 1] += 1;
        }
        for i in 0..n {
            ok_start[i + 1] += ok_start[i];
        }
        let mut fill = ok_start.clone();
        let mut ok_times = vec![0u64; pairs.len()];
        for &(v, time) in &pairs {
            let slot = &mut fill[v as usize];
            ok_times[*slot as usize] = time;
            *slot += 1;
        }
        for v in 0..n {
            let range = ok_start[v] as usize..ok_start[v + 1] as usize;
            if range.len() > 1 {
                ok_times[range].sort_unstable();
            }
        }
        Observations {
            first,
            ok_start,
            ok_times,
            deleted,
        }
    }

    /// Earliest invoke of a possible op whose context observed `v`.
    pub fn first_possible(&self, v: ValueId) -> u64 {
        self.first.get(v as usize).map_or(NEVER, |f| f.0)
    }

    /// The earliest completion of an `ok` delete whose context observed `v`.
    pub fn first_ok_delete(&self, v: ValueId) -> u64 {
        self.deleted.get(v as usize).copied().unwrap_or(NEVER)
    }

    /// How many `ok` ops observing `v` completed strictly before `t`.
    pub fn ok_before(&self, v: ValueId, t: u64) -> u64 {
        let v = v as usize;
        // Usually nothing observed `v` before `t`: answer from `first`.
        if self.first.get(v).is_none_or(|f| f.1 >= t) {
            return 0;
        }
        let times = &self.ok_times[self.ok_start[v] as usize..self.ok_start[v + 1] as usize];
        times.partition_point(|&c| c < t) as u64
    }
}

/// Everything a checker reads.
#[derive(Debug)]
pub struct Context<'a> {
    pub table: &'a OpTable,
    pub cfg: &'a CheckConfig,
    pub final_view: Option<FinalView>,
    /// Empty unless the conflict mode is dvv.
    pub observations: Observations,
}

impl<'a> Context<'a> {
    pub fn new(
        table: &'a OpTable,
        cfg: &'a CheckConfig,
        final_view: Option<FinalView>,
    ) -> Context<'a> {
        let observations = match cfg.conflict {
            crate::result::Conflict::Dvv => Observations::build(table),
            crate::result::Conflict::Lww => Observations::default(),
        };
        Context {
            table,
            cfg,
            final_view,
            observations,
        }
    }

    /// The final state, when it can be trusted to judge acknowledged ops
    /// (there is one, and it is complete).
    pub fn judged_final(&self) -> Option<&FinalView> {
        self.final_view
            .as_ref()
            .filter(|fv| fv.incomplete.is_none())
    }

    /// The verdict of a checker that judges acknowledged ops by the final
    /// state and by reads: false with any anomaly (reads prove theirs
    /// without a final state), else true when the final state could be
    /// judged, else unknown with the reason (`no_final_state` when there is
    /// none at all, the incompleteness otherwise).
    pub fn verdict_by_final_state(
        &self,
        anomalies: bool,
        no_final_state: &str,
    ) -> (crate::result::Validity, Option<String>) {
        use crate::result::Validity;
        match (&self.final_view, self.judged_final()) {
            _ if anomalies => (Validity::False, None),
            (_, Some(_)) => (Validity::True, None),
            (None, None) => (Validity::Unknown, Some(no_final_state.to_string())),
            (Some(fv), None) => (Validity::Unknown, fv.incomplete.clone()),
        }
    }

    /// A value as text, for explanations.
    pub fn value_text(&self, v: ValueId) -> &str {
        if v == NONE {
            "?"
        } else {
            self.table.values.resolve(v)
        }
    }

    /// Values as a quoted list, for explanations.
    pub fn values_text(&self, vs: &[ValueId]) -> String {
        let items: Vec<String> = vs
            .iter()
            .map(|&v| format!("{:?}", self.value_text(v)))
            .collect();
        format!("[{}]", items.join(", "))
    }
}

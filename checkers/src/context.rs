//! What every checker reads: the op table, the final state as value ids, and
//! per-value facts about causal contexts, computed once.

use crate::history::{FinalLine, FinalSummary};
use crate::ops::{KeyId, NEVER, NONE, OpTable, ValueId};
use crate::result::CheckConfig;
use std::collections::{BTreeMap, HashMap};

/// One replica's view of one key: its sorted values (empty = absent).
pub type View = Vec<ValueId>;

/// The final state, interned.
#[derive(Debug)]
pub struct FinalView {
    pub summary: FinalSummary,
    /// Every node: the summary's, then any other node that has entries.
    pub nodes: Vec<String>,
    /// Per key, the union over replicas of the values held (sorted), so a
    /// value counts as surviving if any replica holds it and a key counts as
    /// absent only if every replica lacks it.
    union: Vec<View>,
    /// Per key that has entries: each node's view, in `nodes` order.
    pub per_node: BTreeMap<KeyId, Vec<View>>,
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
        let mut node_index: HashMap<String, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut per_node: BTreeMap<KeyId, Vec<View>> = BTreeMap::new();
        for l in lines {
            let FinalLine::Entry(e) = l else { continue };
            let node = *node_index.entry(e.node.clone()).or_insert_with(|| {
                nodes.push(e.node.clone());
                nodes.len() - 1
            });
            let key = t.keys.intern(&e.key);
            let views = per_node.entry(key).or_default();
            if views.len() <= node {
                views.resize(node + 1, Vec::new());
            }
            // A tombstone counts as absent, whatever values it lists.
            if !e.tombstone {
                views[node].extend(e.values.iter().map(|v| t.intern_value(v)));
            }
        }
        let mut union = vec![Vec::new(); t.keys.len()];
        for (k, views) in per_node.iter_mut() {
            views.resize(nodes.len(), Vec::new());
            for v in views.iter_mut() {
                v.sort_unstable();
                v.dedup();
            }
            let u = &mut union[*k as usize];
            u.extend(views.iter().flatten().copied());
            u.sort_unstable();
            u.dedup();
        }
        Some(FinalView {
            summary,
            nodes,
            union,
            per_node,
        })
    }

    /// The values any replica holds for `k` (sorted; empty = absent).
    pub fn values(&self, k: KeyId) -> &[ValueId] {
        self.union.get(k as usize).map_or(&[], Vec::as_slice)
    }

    pub fn holds(&self, k: KeyId, v: ValueId) -> bool {
        self.values(k).binary_search(&v).is_ok()
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
}

impl Observations {
    fn build(t: &OpTable) -> Observations {
        let n = t.values.len();
        let mut first = vec![(NEVER, NEVER); n];
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
        }
    }

    /// Earliest invoke of a possible op whose context observed `v`.
    pub fn first_possible(&self, v: ValueId) -> u64 {
        self.first.get(v as usize).map_or(NEVER, |f| f.0)
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

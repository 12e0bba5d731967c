//! One key's mutations, sorted for the real-time questions the staleness and
//! session checkers ask about every read.
//!
//! "Did some write or delete that started after `w` finished complete before
//! this read began?" is a prefix-maximum lookup: sort the key's `ok`
//! mutations by completion time, keep the running maximum of their invoke
//! times, and binary-search the read's invoke time. Each read costs
//! O(log n) instead of a scan of the key's history, which matters on hot
//! Zipf keys with a million ops.

use crate::ops::{NEVER, OpFn, OpId, OpTable};
use std::cell::Cell;

/// A mutation as the timeline sees it.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub complete: u64,
    pub invoke: u64,
    pub id: OpId,
}

/// `partition_point` for a sorted slice, searched outward from `hint` (the
/// previous answer): reads of a key come roughly in time order, so the
/// answer is usually a few steps away, and galloping touches a handful of
/// cache lines where a binary search over a hot key's million entries would
/// miss the cache a dozen times. Correct for any `hint`.
fn gallop<T>(items: &[T], hint: &Cell<usize>, below: impl Fn(&T) -> bool) -> usize {
    let n = items.len();
    let h = hint.get().min(n);
    // Answer p satisfies: below(items[i]) for i < p, !below for i >= p.
    let (mut lo, mut hi);
    if h < n && below(&items[h]) {
        // The answer is after h: gallop forward.
        let mut step = 1;
        lo = h + 1;
        hi = loop {
            let probe = h + step;
            if probe >= n {
                break n;
            }
            if !below(&items[probe]) {
                break probe;
            }
            lo = probe + 1;
            step *= 2;
        };
    } else {
        // The answer is at or before h: gallop backward.
        let mut step = 1;
        hi = h;
        lo = loop {
            if step > h {
                break 0;
            }
            let probe = h - step;
            if below(&items[probe]) {
                break probe + 1;
            }
            hi = probe;
            step *= 2;
        };
    }
    let p = lo + items[lo..hi].partition_point(below);
    hint.set(p);
    p
}

/// A sorted view with the running maximum of invoke times.
#[derive(Debug, Default)]
struct ByCompletion {
    entries: Vec<Entry>,
    max_invoke: Vec<u64>,
    hint: Cell<usize>,
}

impl ByCompletion {
    fn build(&mut self) {
        self.hint.set(0);
        self.entries
            .sort_unstable_by_key(|e| (e.complete, e.invoke, e.id));
        self.max_invoke.clear();
        let mut m = 0;
        for e in &self.entries {
            m = m.max(e.invoke);
            self.max_invoke.push(m);
        }
    }

    /// How many entries completed strictly before `t`.
    fn before(&self, t: u64) -> usize {
        gallop(&self.entries, &self.hint, |e| e.complete < t)
    }

    /// Entries completed strictly before `t` that were invoked strictly after
    /// `after` (i.e. that `after`'s op strictly precedes): how many, and the
    /// latest-completing one. Walks back only over entries completing after
    /// `after`, since an entry that completed by then was invoked before it.
    fn newer(&self, after: u64, t: u64) -> (u64, Option<OpId>) {
        let n = self.before(t);
        if n == 0 || self.max_invoke[n - 1] <= after {
            return (0, None);
        }
        let mut count = 0;
        let mut latest = None;
        for e in self.entries[..n].iter().rev() {
            if e.complete <= after {
                break;
            }
            if e.invoke > after {
                count += 1;
                latest.get_or_insert(e.id);
            }
        }
        (count, latest)
    }

    /// Visits the entries `newer` counts (all entries completed strictly
    /// before `t` when `after` is `None`), latest-completing first, until
    /// `visit` returns false; returns whether every visit returned true.
    fn all_newer(&self, after: Option<u64>, t: u64, mut visit: impl FnMut(OpId) -> bool) -> bool {
        let n = self.before(t);
        for e in self.entries[..n].iter().rev() {
            match after {
                Some(a) if e.complete <= a => break,
                Some(a) if e.invoke <= a => continue,
                _ => {}
            }
            if !visit(e.id) {
                return false;
            }
        }
        true
    }
}

/// One key's `ok` mutations by completion, and its possible deletes.
#[derive(Debug, Default)]
pub struct KeyTimeline {
    /// `ok` writes and deletes.
    mutations: ByCompletion,
    /// `ok` writes only.
    writes: ByCompletion,
    /// `ok` deletes only.
    ok_deletes: ByCompletion,
    /// Deletes that may have happened, by invoke time, with the running
    /// maximum of their effect deadlines (and which delete has it).
    deletes: Vec<(u64, OpId)>,
    max_deadline: Vec<(u64, OpId)>,
    delete_hint: Cell<usize>,
}

impl KeyTimeline {
    /// Rebuilds the timeline for one key's ops (reusing the buffers).
    pub fn load(&mut self, t: &OpTable, ops: &[OpId]) {
        self.mutations.entries.clear();
        self.writes.entries.clear();
        self.ok_deletes.entries.clear();
        self.deletes.clear();
        for &id in ops {
            let op = t.op(id);
            if !op.is_mutation() {
                continue;
            }
            if op.f == OpFn::Delete && op.may_have_happened() {
                self.deletes.push((op.invoke_time, id));
            }
            if op.is_ok() {
                let e = Entry {
                    complete: op.complete_time,
                    invoke: op.invoke_time,
                    id,
                };
                self.mutations.entries.push(e);
                if op.f == OpFn::Write {
                    self.writes.entries.push(e);
                } else {
                    self.ok_deletes.entries.push(e);
                }
            }
        }
        self.mutations.build();
        self.writes.build();
        self.ok_deletes.build();
        self.delete_hint.set(0);
        self.deletes.sort_unstable();
        self.max_deadline.clear();
        let mut best = (0, OpId::MAX);
        for &(_, id) in &self.deletes {
            let d = t.op(id).effect_deadline();
            if best.1 == OpId::MAX || d > best.0 {
                best = (d, id);
            }
            self.max_deadline.push(best);
        }
    }

    /// The `ok` mutation that completed last strictly before `t`, with its
    /// completion time.
    pub fn latest_completed_before(&self, t: u64) -> Option<(u64, OpId)> {
        let n = self.mutations.before(t);
        (n > 0).then(|| {
            let e = self.mutations.entries[n - 1];
            (e.complete, e.id)
        })
    }

    /// `ok` writes or deletes that completed before `t` and were invoked after
    /// `after`: count and latest.
    pub fn newer_mutations(&self, after: u64, t: u64) -> (u64, Option<OpId>) {
        self.mutations.newer(after, t)
    }

    /// `ok` writes that completed before `t` and were invoked after `after`.
    pub fn newer_writes(&self, after: u64, t: u64) -> (u64, Option<OpId>) {
        self.writes.newer(after, t)
    }

    /// `ok` deletes that completed before `t` and were invoked after `after`.
    pub fn newer_deletes(&self, after: u64, t: u64) -> (u64, Option<OpId>) {
        self.ok_deletes.newer(after, t)
    }

    /// Whether `visit` holds for every `ok` write or delete that completed
    /// before `t` and was invoked after `after` (latest first; stops at the
    /// first false).
    pub fn all_newer_mutations(&self, after: u64, t: u64, visit: impl FnMut(OpId) -> bool) -> bool {
        self.mutations.all_newer(Some(after), t, visit)
    }

    /// The same over `ok` writes only; `after: None` takes every write that
    /// completed before `t`.
    pub fn all_newer_writes(
        &self,
        after: Option<u64>,
        t: u64,
        visit: impl FnMut(OpId) -> bool,
    ) -> bool {
        self.writes.all_newer(after, t, visit)
    }

    /// The key's `ok` writes, by completion time.
    pub fn ok_writes(&self) -> &[Entry] {
        &self.writes.entries
    }

    /// `ok` writes that completed before `t`.
    pub fn writes_before(&self, t: u64) -> (u64, Option<OpId>) {
        let n = self.writes.before(t);
        (
            n as u64,
            n.checked_sub(1).map(|i| self.writes.entries[i].id),
        )
    }

    /// Among deletes that may have happened and were invoked before `t`, the
    /// latest effect deadline ([`NEVER`] for indeterminate ones) and its op.
    pub fn latest_delete_invoked_before(&self, t: u64) -> Option<(u64, OpId)> {
        let n = gallop(&self.deletes, &self.delete_hint, |&(inv, _)| inv < t);
        (n > 0).then(|| self.max_deadline[n - 1])
    }
}

/// Whether a read completing at `read_complete` that finds the key absent can
/// be explained by a delete that may have happened, was invoked before the
/// read completed, and does not strictly precede an op invoked at
/// `not_before` (its effect deadline is at or after `not_before`).
pub fn delete_explains_absence(tl: &KeyTimeline, not_before: u64, read_complete: u64) -> bool {
    matches!(tl.latest_delete_invoked_before(read_complete), Some((d, _)) if d == NEVER || d >= not_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gallop_agrees_with_partition_point_from_any_hint() {
        let items: Vec<u64> = (0..200).map(|i| i * 3).collect();
        for hint in [0, 1, 5, 64, 199, 200, 10_000] {
            for t in [0, 1, 2, 3, 150, 301, 597, 598, 1000] {
                let h = Cell::new(hint);
                let want = items.partition_point(|&x| x < t);
                assert_eq!(gallop(&items, &h, |&x| x < t), want, "hint {hint} t {t}");
                assert_eq!(h.get(), want);
            }
        }
        assert_eq!(gallop(&[] as &[u64], &Cell::new(3), |&x| x < 5), 0);
    }
}

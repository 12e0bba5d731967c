//! The compact op table every checker works on.
//!
//! A history is a list of events; the checkers reason about *ops*: an invoke
//! paired with its completion on the same process. [`OpTableBuilder`] pairs
//! them in one pass, interns keys and values ([`crate::intern`]) and stores each
//! op as a 48-byte [`OpRecord`], so a 10M-op history fits in well under a GB.
//! Events are not kept: an anomaly names its ops by line number and the few
//! examples are fetched back from the source afterwards.
//!
//! The one ordering the checkers use is *strict precedence* in real time:
//! `a` precedes `b` when `a` completed `ok` before `b` was invoked, by the
//! harness's monotonic clock ([`OpRecord::precedes`]). Ops that are not
//! ordered that way are concurrent. An `info` op, or an invoke with no
//! completion, may take effect at any time after its invoke (a timed-out
//! request can still land), so it precedes nothing; a `fail` op never took
//! effect, so it explains nothing.

use crate::fault_windows::{FaultWindow, FaultWindows};
use crate::history::{Event, EventType, Function};
use crate::intern::{KeyInterner, ValueInterner};
use hashbrown::HashMap;

/// Index of an op in [`OpTable::ops`].
pub type OpId = u32;
/// Interned key.
pub type KeyId = u32;
/// Interned value (values are unique per run, so a value names one write).
pub type ValueId = u32;

/// Marks an absent id or line number in the compact records.
pub(crate) const NONE: u32 = u32::MAX;
/// Completion time of an op that never completed or whose effect time is unknown.
pub(crate) const NEVER: u64 = u64::MAX;

/// A client op's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpFn {
    Read,
    Write,
    Delete,
}

/// How an op ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    Fail,
    /// Indeterminate (timeout, 503): it may or may not have taken effect.
    Info,
    /// No completion in the history (cut short): treated as `info`.
    Pending,
}

impl Outcome {
    /// How an op with this completion event ended (any completion that is
    /// neither `ok` nor `fail` is indeterminate).
    pub fn of_completion(kind: EventType) -> Outcome {
        match kind {
            EventType::Ok => Outcome::Ok,
            EventType::Fail => Outcome::Fail,
            _ => Outcome::Info,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Pending => "pending",
        }
    }
}

/// One op, compactly.
#[derive(Debug, Clone, Copy)]
pub struct OpRecord {
    pub invoke_time: u64,
    /// When the completion was recorded; [`NEVER`] if there was none.
    pub complete_time: u64,
    pub process: u32,
    pub key: KeyId,
    /// Writes: the value written; [`NONE`] otherwise.
    value: ValueId,
    /// Line number (0-based, blank lines skipped) of the invoke event.
    pub invoke_line: u32,
    /// Line number of the completion event; [`NONE`] if there was none.
    pub complete_line: u32,
    /// Reads: the values returned; writes and deletes: the values their
    /// causal context observed. A range of [`OpTable::pool`].
    vals_start: u32,
    vals_len: u32,
    pub f: OpFn,
    pub outcome: Outcome,
}

impl OpRecord {
    pub fn value(&self) -> Option<ValueId> {
        (self.value != NONE).then_some(self.value)
    }

    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// Whether the op may have taken effect (anything but `fail`).
    pub fn may_have_happened(&self) -> bool {
        self.outcome != Outcome::Fail
    }

    /// The latest time the op may have taken effect: its completion if it
    /// completed `ok` or `fail`, [`NEVER`] if indeterminate.
    pub fn effect_deadline(&self) -> u64 {
        match self.outcome {
            Outcome::Ok | Outcome::Fail => self.complete_time,
            Outcome::Info | Outcome::Pending => NEVER,
        }
    }

    /// Strict real-time precedence: `self` completed `ok` before `other` was
    /// invoked. Equal timestamps are concurrent.
    pub fn precedes(&self, other: &OpRecord) -> bool {
        self.is_ok() && self.complete_time < other.invoke_time
    }

    pub fn is_mutation(&self) -> bool {
        matches!(self.f, OpFn::Write | OpFn::Delete)
    }
}

/// Every op of a history, paired and interned, indexed by key.
#[derive(Debug)]
pub struct OpTable {
    /// Every op, grouped by key and in invoke order within a key.
    pub ops: Vec<OpRecord>,
    pool: Vec<ValueId>,
    pub keys: KeyInterner,
    pub values: ValueInterner,
    /// The write that wrote each value ([`NONE`]: never written).
    writer: Vec<OpId>,
    /// Op ids grouped by key: `by_key[key_start[k]..key_start[k+1]]`, each
    /// group in invoke order. (After [`OpTableBuilder::finish`] the table itself
    /// is in this order, so this is the identity; it keeps `ops_on` a slice.)
    key_start: Vec<u32>,
    by_key: Vec<OpId>,
    /// Nemesis events with their line numbers, kept whole (there are few).
    pub nemesis: Vec<(u32, Event)>,
    pub windows: Vec<FaultWindow>,
    /// The union of the fault windows as sorted, disjoint `[start, stop]`
    /// spans, so a per-read overlap test is a binary search.
    fault_spans: Vec<(u64, u64)>,
    /// Completions with no outstanding invoke on their process.
    pub unmatched_completions: u64,
    /// Writes whose value an earlier write already wrote.
    pub duplicate_values: u64,
    /// Lines that are neither client ops nor nemesis start/stop.
    pub malformed_lines: u64,
    /// Latest time seen on any event.
    pub last_time: u64,
    /// How many event lines were read.
    pub lines: u32,
}

impl Default for OpTable {
    fn default() -> Self {
        OpTable {
            ops: Vec::new(),
            pool: Vec::new(),
            keys: KeyInterner::keys(),
            values: ValueInterner::values(),
            writer: Vec::new(),
            key_start: Vec::new(),
            by_key: Vec::new(),
            nemesis: Vec::new(),
            windows: Vec::new(),
            fault_spans: Vec::new(),
            unmatched_completions: 0,
            duplicate_values: 0,
            malformed_lines: 0,
            last_time: 0,
            lines: 0,
        }
    }
}

impl OpTable {
    /// The values an op returned (reads) or observed (writes, deletes).
    pub fn vals(&self, op: &OpRecord) -> &[ValueId] {
        let start = op.vals_start as usize;
        &self.pool[start..start + op.vals_len as usize]
    }

    /// The write that wrote `v`, if any write did.
    pub fn writer(&self, v: ValueId) -> Option<OpId> {
        self.writer.get(v as usize).copied().filter(|&w| w != NONE)
    }

    pub fn op(&self, id: OpId) -> &OpRecord {
        &self.ops[id as usize]
    }

    /// The ops on key `k`, in invoke order.
    pub fn ops_on(&self, k: KeyId) -> &[OpId] {
        let k = k as usize;
        if k + 1 >= self.key_start.len() {
            return &[];
        }
        &self.by_key[self.key_start[k] as usize..self.key_start[k + 1] as usize]
    }

    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Interns a value seen outside the history (in the final state).
    pub fn intern_value(&mut self, v: &str) -> ValueId {
        self.values.intern(v)
    }

    /// Whether `[from, to]` overlaps any fault window.
    pub fn overlaps_fault(&self, from: u64, to: u64) -> bool {
        // `fault_spans` is sorted and disjoint: find the last span starting
        // at or before `to` and see whether it reaches `from`.
        let n = self.fault_spans.partition_point(|&(start, _)| start <= to);
        n > 0 && self.fault_spans[n - 1].1 >= from
    }
}

/// The parts of one event the op table needs, borrowed from a parsed line or
/// from an [`Event`]. See [`crate::parse`] for the zero-copy JSON side.
#[derive(Debug)]
pub struct EventRef<'a> {
    pub process: crate::history::Process,
    pub kind: EventType,
    pub f: Function,
    pub time: u64,
    pub key: Option<&'a str>,
    pub value: Option<&'a str>,
    pub values: Option<StrList<'a>>,
    pub observed: Option<StrList<'a>>,
}

/// A list of strings borrowed from an [`Event`] or from a parsed line,
/// without copying either into a new `Vec`.
#[derive(Debug, Clone, Copy)]
pub enum StrList<'a> {
    Owned(&'a [String]),
    Parsed(&'a [crate::parse::Text<'a>]),
}

impl<'a> StrList<'a> {
    pub fn iter(self) -> impl Iterator<Item = &'a str> {
        let (owned, parsed): (&[String], &[crate::parse::Text<'a>]) = match self {
            StrList::Owned(s) => (s, &[]),
            StrList::Parsed(t) => (&[], t),
        };
        owned
            .iter()
            .map(String::as_str)
            .chain(parsed.iter().map(crate::parse::Text::as_str))
    }
}

impl<'a> EventRef<'a> {
    pub fn of(e: &'a Event) -> EventRef<'a> {
        EventRef {
            process: e.process,
            kind: e.kind,
            f: e.f,
            time: e.time,
            key: e.key.as_deref(),
            value: e.value.as_deref(),
            values: e.values.as_deref().map(StrList::Owned),
            observed: e.observed.as_deref().map(StrList::Owned),
        }
    }
}

/// The pairing rule of a history (docs/history.md): a client process has at
/// most one op in flight, and a completion belongs to its process's
/// outstanding invoke. A second invoke with the first still outstanding
/// leaves the first pending: indeterminate, as a history cut short would.
/// `Id` is whatever the caller stores its ops under.
#[derive(Debug)]
pub struct InFlight<Id> {
    by_process: HashMap<u32, Id>,
}

impl<Id> Default for InFlight<Id> {
    fn default() -> Self {
        InFlight {
            by_process: HashMap::new(),
        }
    }
}

impl<Id> InFlight<Id> {
    /// Process `process` invoked the op `id`.
    pub fn invoke(&mut self, process: u32, id: Id) {
        self.by_process.insert(process, id);
    }

    /// The op a completion on `process` completes; `None` if the process
    /// has no outstanding invoke (an unmatched completion).
    pub fn complete(&mut self, process: u32) -> Option<Id> {
        self.by_process.remove(&process)
    }
}

/// Pairs invokes with completions in one pass over the events.
#[derive(Debug, Default)]
pub struct OpTableBuilder {
    table: OpTable,
    /// Each process's outstanding invoke.
    pending: InFlight<OpId>,
    /// Pairs the nemesis events into `table.windows` at [`Self::finish`].
    faults: FaultWindows,
}

impl OpTableBuilder {
    pub fn new() -> OpTableBuilder {
        OpTableBuilder::default()
    }

    /// Adds the next line's event. Nemesis events must come through
    /// [`OpTableBuilder::push_nemesis`] so they are kept whole.
    pub fn push(&mut self, e: &EventRef<'_>) {
        let line = self.next_line(e.time);
        let crate::history::Process::Client(p) = e.process else {
            self.table.malformed_lines += 1;
            return;
        };
        let f = match e.f {
            Function::Read => OpFn::Read,
            Function::Write => OpFn::Write,
            Function::Delete => OpFn::Delete,
            Function::Start | Function::Stop => {
                self.table.malformed_lines += 1;
                return;
            }
        };
        let t = &mut self.table;
        if e.kind == EventType::Invoke {
            let key = t.keys.intern(e.key.unwrap_or(""));
            let value = match (f, e.value) {
                (OpFn::Write, Some(v)) => t.values.intern(v),
                _ => NONE,
            };
            let (vals_start, vals_len) = push_vals(&mut t.pool, &mut t.values, e.observed);
            let id = t.ops.len() as OpId;
            t.ops.push(OpRecord {
                invoke_time: e.time,
                complete_time: NEVER,
                process: p,
                key,
                value,
                invoke_line: line,
                complete_line: NONE,
                vals_start,
                vals_len,
                f,
                outcome: Outcome::Pending,
            });
            self.pending.invoke(p, id);
            return;
        }
        let Some(id) = self.pending.complete(p) else {
            t.unmatched_completions += 1;
            return;
        };
        let op = &mut t.ops[id as usize];
        op.complete_time = e.time;
        op.complete_line = line;
        op.outcome = Outcome::of_completion(e.kind);
        let returned = match (op.f, op.outcome) {
            (OpFn::Read, Outcome::Ok) => e.values.or(Some(StrList::Owned(&[]))),
            (OpFn::Read, _) => None,
            _ => e.observed,
        };
        if returned.is_some() {
            let (start, len) = push_vals(&mut t.pool, &mut t.values, returned);
            let op = &mut t.ops[id as usize];
            op.vals_start = start;
            op.vals_len = len;
        }
    }

    /// Adds a nemesis event (the next line), opening or closing fault windows.
    pub fn push_nemesis(&mut self, e: Event) {
        let line = self.next_line(e.time);
        if !self.faults.push(line, &e) {
            self.table.malformed_lines += 1;
        }
        self.table.nemesis.push((line, e));
    }

    fn next_line(&mut self, time: u64) -> u32 {
        let line = self.table.lines;
        self.table.lines += 1;
        self.table.last_time = self.table.last_time.max(time);
        line
    }

    /// Indexes the ops by key and values by writer.
    pub fn finish(self) -> OpTable {
        let mut t = self.table;
        t.windows = self.faults.finish();
        t.writer = vec![NONE; t.values.len()];
        for (id, op) in t.ops.iter().enumerate() {
            if let Some(v) = op.value() {
                let slot = &mut t.writer[v as usize];
                if *slot == NONE {
                    *slot = id as OpId;
                } else {
                    t.duplicate_values += 1;
                }
            }
        }
        // Reorder the ops by key (a stable counting sort: each key's ops stay
        // in invoke order). Checkers walk the table key by key several times;
        // with each key's ops contiguous those walks read memory in order
        // instead of taking a cache miss per op. `dest[old] = new`.
        let keys = t.keys.len();
        let mut start = vec![0u32; keys + 1];
        for op in &t.ops {
            start[op.key as usize + 1] += 1;
        }
        for k in 0..keys {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        // `order[new] = old`, and old ids of writers remapped to new ones.
        let mut order: Vec<OpId> = vec![0; t.ops.len()];
        let mut dest: Vec<OpId> = vec![0; t.ops.len()];
        for (old, op) in t.ops.iter().enumerate() {
            let slot = &mut fill[op.key as usize];
            order[*slot as usize] = old as OpId;
            dest[old] = *slot;
            *slot += 1;
        }
        for w in t.writer.iter_mut().filter(|w| **w != NONE) {
            *w = dest[*w as usize];
        }
        drop(dest);
        // A gather into a new table: its loads are independent of one
        // another, so the CPU overlaps their cache misses (an in-place
        // cycle-following permutation chains them and is several times
        // slower), at the price of a second table for a moment.
        t.ops = order.iter().map(|&old| t.ops[old as usize]).collect();
        t.key_start = start;
        t.by_key = (0..t.ops.len() as OpId).collect();
        let mut spans: Vec<(u64, u64)> = t.windows.iter().map(|w| (w.start, w.stop)).collect();
        spans.sort_unstable();
        for (start, stop) in spans {
            match t.fault_spans.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(stop),
                _ => t.fault_spans.push((start, stop)),
            }
        }
        t
    }
}

fn push_vals(
    pool: &mut Vec<ValueId>,
    values: &mut ValueInterner,
    vals: Option<StrList<'_>>,
) -> (u32, u32) {
    let start = pool.len() as u32;
    for v in vals.into_iter().flat_map(StrList::iter) {
        pool.push(values.intern(v));
    }
    (start, pool.len() as u32 - start)
}

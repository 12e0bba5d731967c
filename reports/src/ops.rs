//! Client operations: each invocation paired with its completion.
//!
//! The history is a flat list of events; charts and anomaly timelines think in
//! operations (invoke → complete, with a latency and an outcome). The pairing
//! rule and the outcomes are the checkers' ([`checkers::ops::InFlight`],
//! [`Outcome`]); this table differs from the checkers' compact one in what it
//! keeps: ops in invocation order, looked up by history index, with their
//! strings (node, error too) for the ops anomalies cite.

use checkers::history::{Event, EventType, Function, Process};
use checkers::node_id::NodeId;
use checkers::ops::InFlight;
pub use checkers::ops::Outcome;
use std::collections::HashSet;

/// One client operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub process: u32,
    pub f: Function,
    pub key: Option<String>,
    pub node: Option<NodeId>,
    /// The value written (writes).
    pub value: Option<String>,
    /// The values read (ok reads).
    pub values: Option<Vec<String>>,
    pub error: Option<String>,
    pub outcome: Outcome,
    /// ns since test start.
    pub invoke_time: u64,
    pub complete_time: Option<u64>,
    /// History line indexes of the two events.
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
}

impl Op {
    /// Latency in seconds, for completed ops.
    pub fn latency_s(&self) -> Option<f64> {
        self.complete_time
            .map(|c| c.saturating_sub(self.invoke_time) as f64 / 1e9)
    }

    /// The op's name for legends: `read`, `write`, `delete`.
    pub fn f_label(&self) -> &'static str {
        self.f.name()
    }
}

/// All client ops of a history, in invocation order, plus a lookup from any
/// event's history index to its op.
#[derive(Debug, Default)]
pub struct OpTable {
    pub ops: Vec<Op>,
    /// (history index, op position), sorted by history index.
    by_event: Vec<(u64, usize)>,
}

impl OpTable {
    /// The table of a history held in memory, every op with its strings.
    #[cfg(test)]
    pub fn build(history: &[Event]) -> OpTable {
        let mut b = OpTableBuilder::new(None);
        history.iter().for_each(|e| b.push(e));
        b.finish()
    }

    /// The op an event (invoke or completion) with this history index belongs to.
    pub fn op_of_event(&self, index: u64) -> Option<&Op> {
        self.by_event
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()
            .map(|at| &self.ops[self.by_event[at].1])
    }
}

/// Builds an [`OpTable`] one event at a time, so a history is streamed
/// from disk instead of held in memory (a million-op history is ~2 million
/// events).
///
/// Charts need only times, functions and outcomes; keys, values, nodes and
/// errors are shown only for the ops that anomalies cite. Given the set of
/// cited history indexes, the builder keeps strings for those ops alone,
/// which keeps a report's memory at tens of bytes per op.
#[derive(Debug)]
pub struct OpTableBuilder {
    table: OpTable,
    in_flight: InFlight<usize>,
    /// `None`: keep every op's strings.
    cited: Option<HashSet<u64>>,
}

impl OpTableBuilder {
    pub fn new(cited: Option<HashSet<u64>>) -> OpTableBuilder {
        OpTableBuilder {
            table: OpTable::default(),
            in_flight: InFlight::default(),
            cited,
        }
    }

    fn keeps(&self, index: u64) -> bool {
        self.cited.as_ref().is_none_or(|c| c.contains(&index))
    }

    /// Adds one history event; nemesis events are ignored.
    pub fn push(&mut self, e: &Event) {
        let Process::Client(p) = e.process else {
            return;
        };
        match e.kind {
            EventType::Invoke => {
                let keep = self.keeps(e.index);
                let pos = self.table.ops.len();
                self.table.ops.push(Op {
                    process: p,
                    f: e.f,
                    key: e.key.clone().filter(|_| keep),
                    node: e.node.clone().filter(|_| keep),
                    value: e.value.clone().filter(|_| keep),
                    values: None,
                    error: None,
                    outcome: Outcome::Pending,
                    invoke_time: e.time,
                    complete_time: None,
                    invoke_index: e.index,
                    complete_index: None,
                });
                self.in_flight.invoke(p, pos);
                self.table.by_event.push((e.index, pos));
            }
            kind => {
                let Some(pos) = self.in_flight.complete(p) else {
                    return;
                };
                let keep = self.keeps(e.index) || self.keeps(self.table.ops[pos].invoke_index);
                let op = &mut self.table.ops[pos];
                op.outcome = Outcome::of_completion(kind);
                op.complete_time = Some(e.time);
                op.complete_index = Some(e.index);
                if keep {
                    // A completion repeats its invocation's key, value and
                    // node, so it alone is enough when only it was cited.
                    op.values = e.values.clone();
                    op.error = e.error.clone();
                    op.key = op.key.take().or_else(|| e.key.clone());
                    op.value = op.value.take().or_else(|| e.value.clone());
                    op.node = op.node.take().or_else(|| e.node.clone());
                }
                self.table.by_event.push((e.index, pos));
            }
        }
    }

    pub fn finish(mut self) -> OpTable {
        // Indexes are increasing in a well-formed file; sort anyway so a
        // shuffled one still looks up correctly.
        self.table.by_event.sort_unstable_by_key(|&(i, _)| i);
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::history::read_history;

    #[test]
    fn invocations_pair_with_their_completion_per_process() {
        let text = r#"{"index":0,"process":1,"type":"invoke","f":"write","time":10,"key":"a","value":"1-0","node":"n1"}
{"index":1,"process":2,"type":"invoke","f":"read","time":11,"key":"a","node":"n2"}
{"index":2,"process":1,"type":"info","f":"write","time":50,"key":"a","value":"1-0","node":"n1","error":"timeout"}
{"index":3,"process":2,"type":"ok","f":"read","time":20,"key":"a","values":["1-0"],"node":"n2"}
{"index":4,"process":1,"type":"invoke","f":"delete","time":60,"key":"a","node":"n1"}
"#;
        let table = OpTable::build(&read_history(text.as_bytes()).unwrap());
        assert_eq!(table.ops.len(), 3);
        assert_eq!(table.ops[0].outcome, Outcome::Info);
        assert_eq!(table.ops[0].latency_s(), Some(40e-9));
        assert_eq!(
            table.ops[1].values.as_deref(),
            Some(&["1-0".to_string()][..])
        );
        assert_eq!(table.ops[2].outcome, Outcome::Pending);
        assert_eq!(table.op_of_event(3).unwrap().process, 2);
        assert!(table.op_of_event(99).is_none());
    }

    #[test]
    fn only_cited_ops_keep_their_strings_and_a_cited_completion_suffices() {
        let text = r#"{"index":0,"process":1,"type":"invoke","f":"write","time":10,"key":"a","value":"1-0","node":"n1"}
{"index":1,"process":1,"type":"ok","f":"write","time":20,"key":"a","value":"1-0","node":"n1"}
{"index":2,"process":1,"type":"invoke","f":"read","time":30,"key":"b","node":"n1"}
{"index":3,"process":1,"type":"ok","f":"read","time":40,"key":"b","values":["x"],"node":"n1"}
"#;
        let mut b = OpTableBuilder::new(Some(HashSet::from([3])));
        read_history(text.as_bytes())
            .unwrap()
            .iter()
            .for_each(|e| b.push(e));
        let table = b.finish();
        assert_eq!(table.ops[0].key, None);
        assert_eq!(table.ops[0].complete_time, Some(20));
        assert_eq!(table.ops[1].key.as_deref(), Some("b"));
        assert_eq!(table.ops[1].values.as_deref(), Some(&["x".to_string()][..]));
    }
}

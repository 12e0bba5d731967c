//! Client operations: each invocation paired with its completion.
//!
//! The history is a flat list of events; charts and anomaly timelines think in
//! operations (invoke → complete, with a latency and an outcome). Pairing is
//! by process: a process has at most one op in flight (docs/history.md).

use checkers::history::{Event, EventType, Function, Process};
use std::collections::HashMap;

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    Fail,
    /// Indeterminate (timeout, 503).
    Info,
    /// No completion in the history (the harness was stopped).
    Pending,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Pending => "pending",
        }
    }
}

/// One client operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub process: u32,
    pub f: Function,
    pub key: Option<String>,
    pub node: Option<String>,
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
        function_label(self.f)
    }
}

pub fn function_label(f: Function) -> &'static str {
    match f {
        Function::Read => "read",
        Function::Write => "write",
        Function::Delete => "delete",
        Function::Start => "start",
        Function::Stop => "stop",
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
    pub fn build(history: &[Event]) -> OpTable {
        let mut ops: Vec<Op> = Vec::new();
        let mut by_event = Vec::with_capacity(history.len());
        let mut in_flight: HashMap<u32, usize> = HashMap::new();
        for e in history {
            let Process::Client(p) = e.process else {
                continue;
            };
            match e.kind {
                EventType::Invoke => {
                    let pos = ops.len();
                    ops.push(Op {
                        process: p,
                        f: e.f,
                        key: e.key.clone(),
                        node: e.node.clone(),
                        value: e.value.clone(),
                        values: None,
                        error: None,
                        outcome: Outcome::Pending,
                        invoke_time: e.time,
                        complete_time: None,
                        invoke_index: e.index,
                        complete_index: None,
                    });
                    in_flight.insert(p, pos);
                    by_event.push((e.index, pos));
                }
                kind => {
                    let Some(pos) = in_flight.remove(&p) else {
                        continue;
                    };
                    let op = &mut ops[pos];
                    op.outcome = match kind {
                        EventType::Ok => Outcome::Ok,
                        EventType::Fail => Outcome::Fail,
                        _ => Outcome::Info,
                    };
                    op.complete_time = Some(e.time);
                    op.complete_index = Some(e.index);
                    op.values = e.values.clone();
                    op.error = e.error.clone();
                    if op.node.is_none() {
                        op.node = e.node.clone();
                    }
                    by_event.push((e.index, pos));
                }
            }
        }
        // Indexes are increasing in a well-formed file; sort anyway so a
        // shuffled one still looks up correctly.
        by_event.sort_unstable_by_key(|&(i, _)| i);
        OpTable { ops, by_event }
    }

    /// The op an event (invoke or completion) with this history index belongs to.
    pub fn op_of_event(&self, index: u64) -> Option<&Op> {
        self.by_event
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()
            .map(|at| &self.ops[self.by_event[at].1])
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
}

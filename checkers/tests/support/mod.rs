//! Test support: a small DSL for hand-written histories and a simulated
//! correct (or deliberately skewed) register that produces whole histories.
#![allow(dead_code, clippy::too_many_arguments)]

pub mod sim;

use checkers::fault::FaultKind;
use checkers::fault_detail::FaultDetail;
use checkers::history::{
    Event, EventType, FinalLine, FinalSummary, Function, Process, ReplicaEntry,
};
use checkers::node_id::NodeId;

/// Builds a history from ops given with explicit invoke and completion
/// times; events are sorted by time and indexed at the end.
#[derive(Default)]
pub struct H {
    events: Vec<(u64, usize, Event)>,
}

/// How a hand-written op ends.
#[derive(Clone, Copy, PartialEq)]
pub enum End {
    Ok,
    Fail,
    Info,
    /// No completion at all (history cut short).
    None,
}

fn ev(p: Process, kind: EventType, f: Function, time: u64, key: Option<&str>) -> Event {
    Event {
        index: 0,
        process: p,
        kind,
        f,
        time,
        key: key.map(str::to_string),
        value: None,
        values: None,
        observed: None,
        node: key.map(|_| "n1".into()),
        error: None,
        fault: None,
        detail: None,
    }
}

impl H {
    pub fn new() -> H {
        H::default()
    }

    fn push(&mut self, e: Event) {
        let n = self.events.len();
        self.events.push((e.time, n, e));
    }

    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        p: u32,
        f: Function,
        key: &str,
        value: Option<&str>,
        observed: Option<&[&str]>,
        read: Option<&[&str]>,
        inv: u64,
        cmp: u64,
        end: End,
    ) -> &mut H {
        let mut i = ev(Process::Client(p), EventType::Invoke, f, inv, Some(key));
        i.value = value.map(str::to_string);
        i.observed = observed.map(|o| o.iter().map(|s| s.to_string()).collect());
        let kind = match end {
            End::Ok => EventType::Ok,
            End::Fail => EventType::Fail,
            End::Info => EventType::Info,
            End::None => {
                self.push(i);
                return self;
            }
        };
        let mut c = i.clone();
        c.kind = kind;
        c.time = cmp;
        if end == End::Ok {
            c.values = read.map(|r| r.iter().map(|s| s.to_string()).collect());
        } else {
            c.error = Some("timeout".into());
        }
        self.push(i);
        self.push(c);
        self
    }

    pub fn write(&mut self, p: u32, key: &str, v: &str, inv: u64, cmp: u64, end: End) -> &mut H {
        self.op(p, Function::Write, key, Some(v), None, None, inv, cmp, end)
    }

    pub fn cwrite(
        &mut self,
        p: u32,
        key: &str,
        v: &str,
        observed: &[&str],
        inv: u64,
        cmp: u64,
        end: End,
    ) -> &mut H {
        self.op(
            p,
            Function::Write,
            key,
            Some(v),
            Some(observed),
            None,
            inv,
            cmp,
            end,
        )
    }

    pub fn delete(&mut self, p: u32, key: &str, inv: u64, cmp: u64, end: End) -> &mut H {
        self.op(p, Function::Delete, key, None, None, None, inv, cmp, end)
    }

    pub fn cdelete(
        &mut self,
        p: u32,
        key: &str,
        observed: &[&str],
        inv: u64,
        cmp: u64,
        end: End,
    ) -> &mut H {
        self.op(
            p,
            Function::Delete,
            key,
            None,
            Some(observed),
            None,
            inv,
            cmp,
            end,
        )
    }

    pub fn read(&mut self, p: u32, key: &str, got: &[&str], inv: u64, cmp: u64) -> &mut H {
        self.op(
            p,
            Function::Read,
            key,
            None,
            None,
            Some(got),
            inv,
            cmp,
            End::Ok,
        )
    }

    pub fn nemesis(&mut self, f: Function, fault: &str, time: u64) -> &mut H {
        let mut e = ev(Process::Nemesis, EventType::Info, f, time, None);
        e.fault = Some(kind(fault));
        e.detail = Some(FaultDetail::Other(
            serde_json::json!({"grudge": {"n1": ["n2"]}}),
        ));
        self.push(e);
        self
    }

    /// A nemesis event with an explicit detail (e.g. the node a wipe hit).
    pub fn fault(
        &mut self,
        f: Function,
        fault: &str,
        time: u64,
        detail: serde_json::Value,
    ) -> &mut H {
        let mut e = ev(Process::Nemesis, EventType::Info, f, time, None);
        e.fault = Some(kind(fault));
        e.detail = Some(serde_json::from_value(detail).expect("any JSON reads as a detail"));
        self.push(e);
        self
    }

    pub fn build(&self) -> Vec<Event> {
        let mut evs = self.events.clone();
        evs.sort_by_key(|(t, n, _)| (*t, *n));
        evs.into_iter()
            .enumerate()
            .map(|(i, (_, _, mut e))| {
                e.index = i as u64;
                e
            })
            .collect()
    }
}

/// The fault kind a test names.
fn kind(fault: &str) -> FaultKind {
    fault.parse().expect("a test names a known fault kind")
}

/// A final state: `(node, key, values)`; an empty list is a tombstone.
pub fn final_state(converged: bool, entries: &[(&str, &str, &[&str])]) -> Vec<FinalLine> {
    let mut nodes: Vec<NodeId> = entries.iter().map(|e| e.0.into()).collect();
    nodes.sort();
    nodes.dedup();
    if nodes.is_empty() {
        nodes = vec!["n1".into(), "n2".into(), "n3".into()];
    }
    let mut out = vec![FinalLine::Summary(FinalSummary {
        nodes,
        converged,
        healed_at: 1_000_000,
        converged_at: converged.then_some(1_500_000),
        rf: None,
        ..FinalSummary::default()
    })];
    for (node, key, vals) in entries {
        out.push(FinalLine::Entry(ReplicaEntry {
            node: (*node).into(),
            key: key.to_string(),
            values: vals.iter().map(|s| s.to_string()).collect(),
            tombstone: vals.is_empty(),
            version: serde_json::Value::Null,
        }));
    }
    out
}

/// The same values on three replicas.
pub fn agreed(entries: &[(&str, &[&str])]) -> Vec<FinalLine> {
    let mut all = Vec::new();
    for n in ["n1", "n2", "n3"] {
        for (k, v) in entries {
            all.push((n, *k, *v));
        }
    }
    final_state(true, &all)
}

pub fn lww() -> checkers::CheckConfig {
    checkers::CheckConfig::default()
}

pub fn dvv() -> checkers::CheckConfig {
    checkers::CheckConfig {
        conflict: checkers::Conflict::Dvv,
        ..checkers::CheckConfig::default()
    }
}

/// `cfg` with quorums of `n` replicas, `r` reads and `w` writes.
pub fn quorum(cfg: checkers::CheckConfig, n: u32, r: u32, w: u32) -> checkers::CheckConfig {
    checkers::CheckConfig {
        quorum: Some(checkers::Quorum { n, r, w }),
        ..cfg
    }
}

/// The count of `kind` in checker `name`'s result.
pub fn count(r: &checkers::Results, name: &str, kind: &str) -> u64 {
    r.check(name)
        .unwrap_or_else(|| panic!("no checker {name}"))
        .counts
        .get(kind)
        .copied()
        .unwrap_or(0)
}

pub fn valid(r: &checkers::Results, name: &str) -> checkers::Validity {
    r.check(name).unwrap().valid
}

//! A simulated register that produces complete, realistic histories.
//!
//! Client processes run closed loops over `workloads` op streams; each op gets
//! an invoke time, a completion time and (if it takes effect) a linearization
//! point. `ok` ops take effect strictly between invoke and completion; `fail`
//! ops never; `info` ops take effect half the time, possibly *after* their
//! completion (a timed-out request that still lands). With `skew_ns == 0` the
//! store is correct (linearizable lww, or a correct dvv store that removes
//! exactly what a write's context observed), so no checker may flag it. With
//! a skew, the lww store orders writes by linearization point plus a
//! per-process clock offset — the classic lost-update bug.
//!
//! Memory is O(keys + processes): events stream out through a sink, so the
//! benchmark can generate 10M ops.

use checkers::Conflict;
use checkers::fault::FaultKind;
use checkers::fault_detail::FaultDetail;
use checkers::history::{
    Event, EventType, FinalLine, FinalSummary, Function, Process, ReplicaEntry,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use workloads::{OpKind, OpStream, Workload, WorkloadConfig};

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub workload: WorkloadConfig,
    pub processes: u32,
    pub ops: u64,
    pub conflict: Conflict,
    pub info_share: f64,
    pub fail_share: f64,
    /// Clock offset of process 0 in the lww store; 0 = correct store.
    pub skew_ns: u64,
    /// Emit a partition window every this many ns (nemesis events only).
    pub nemesis_every_ns: Option<u64>,
    pub seed: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    f: Function,
    key: String,
    value: Option<String>,
    observed: Option<Vec<String>>,
    outcome: EventType,
    read: Option<Vec<String>>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Invoke(u32),
    /// Apply an op's effect; `u64` is the op's serial, to find it again.
    Effect(u32, u64),
    Complete(u32),
    Nemesis(bool),
}

#[derive(Default)]
struct Store {
    /// lww: key -> (timestamp, value or tombstone).
    lww: BTreeMap<String, (u64, Option<String>)>,
    /// dvv: key -> siblings.
    dvv: BTreeMap<String, Vec<String>>,
}

impl Store {
    fn read(&self, c: Conflict, key: &str) -> Vec<String> {
        match c {
            Conflict::Lww => self
                .lww
                .get(key)
                .and_then(|(_, v)| v.clone())
                .into_iter()
                .collect(),
            Conflict::Dvv => self.dvv.get(key).cloned().unwrap_or_default(),
        }
    }

    fn apply(&mut self, c: Conflict, op: &Pending, ts: u64) {
        match c {
            Conflict::Lww => {
                let slot = self.lww.entry(op.key.clone()).or_insert((0, None));
                if ts >= slot.0 {
                    *slot = (ts, op.value.clone());
                }
            }
            Conflict::Dvv => {
                let sibs = self.dvv.entry(op.key.clone()).or_default();
                if let Some(obs) = &op.observed {
                    sibs.retain(|s| !obs.contains(s));
                }
                if let Some(v) = &op.value {
                    sibs.push(v.clone());
                }
            }
        }
    }
}

/// Runs the simulation, feeding each event to `sink` in time order, and
/// returns the final state (three agreeing replicas).
pub fn run(cfg: &SimConfig, mut sink: impl FnMut(&Event)) -> Vec<FinalLine> {
    let workload = Workload::new(cfg.workload.clone()).expect("valid workload");
    let mut streams: Vec<OpStream> = (0..cfg.processes).map(|p| workload.stream(p)).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    // Process 0's clock runs `skew_ns` ahead: its writes win over any write
    // made up to `skew_ns` after them, and those acknowledged writes are lost.
    let skew: Vec<u64> = (0..cfg.processes)
        .map(|p| if p == 0 { cfg.skew_ns } else { 0 })
        .collect();
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: u64, a: Action| {
        seq += 1;
        heap.push(Reverse((t, seq, a)));
    };
    for p in 0..cfg.processes {
        push(&mut heap, 1_000 + p as u64 * 7, Action::Invoke(p));
    }
    if let Some(every) = cfg.nemesis_every_ns {
        push(&mut heap, every, Action::Nemesis(true));
    }
    let mut outstanding: Vec<Option<(u64, Pending)>> = vec![None; cfg.processes as usize];
    // Ops whose effect is scheduled, by serial (info effects outlive their op).
    let mut effects: BTreeMap<u64, (u32, Pending)> = BTreeMap::new();
    let mut store = Store::default();
    let mut issued = 0u64;
    let mut serial = 0u64;
    let mut index = 0u64;
    let mut emit = |e: &mut Event, sink: &mut dyn FnMut(&Event)| {
        e.index = index;
        index += 1;
        sink(e);
    };
    while let Some(Reverse((now, _, action))) = heap.pop() {
        match action {
            Action::Invoke(p) => {
                if issued >= cfg.ops {
                    continue;
                }
                issued += 1;
                let op = streams[p as usize].next().expect("streams are infinite");
                let f = match op.kind {
                    OpKind::Read => Function::Read,
                    OpKind::Write => Function::Write,
                    OpKind::Delete => Function::Delete,
                };
                let observed = op.causal.then(|| store.read(cfg.conflict, &op.key));
                let roll: f64 = rng.random();
                let outcome = if roll < cfg.fail_share {
                    EventType::Fail
                } else if roll < cfg.fail_share + cfg.info_share {
                    EventType::Info
                } else {
                    EventType::Ok
                };
                let duration = rng.random_range(1_000_000..5_000_000u64);
                let complete = now + duration;
                let pending = Pending {
                    f,
                    key: op.key,
                    value: op.value,
                    observed,
                    outcome,
                    read: None,
                };
                let effect_at = match outcome {
                    EventType::Ok => Some(rng.random_range(now + 1..complete)),
                    EventType::Info if f != Function::Read && rng.random_bool(0.5) => {
                        Some(rng.random_range(now + 1..complete + 3 * duration))
                    }
                    _ => None,
                };
                serial += 1;
                if let Some(at) = effect_at {
                    effects.insert(serial, (p, pending.clone()));
                    push(&mut heap, at, Action::Effect(p, serial));
                }
                let mut e = event(Process::Client(p), EventType::Invoke, &pending, now);
                emit(&mut e, &mut sink);
                outstanding[p as usize] = Some((serial, pending));
                push(&mut heap, complete, Action::Complete(p));
            }
            Action::Effect(p, s) => {
                let Some((_, op)) = effects.remove(&s) else {
                    continue;
                };
                if op.f == Function::Read {
                    let got = store.read(cfg.conflict, &op.key);
                    if let Some((os, o)) = outstanding[p as usize].as_mut()
                        && *os == s
                    {
                        o.read = Some(got);
                    }
                } else {
                    store.apply(cfg.conflict, &op, now + skew[p as usize]);
                }
            }
            Action::Complete(p) => {
                let Some((_, op)) = outstanding[p as usize].take() else {
                    continue;
                };
                let mut e = event(Process::Client(p), op.outcome, &op, now);
                if op.outcome == EventType::Ok && op.f == Function::Read {
                    e.values = Some(op.read.clone().unwrap_or_default());
                }
                if op.outcome != EventType::Ok {
                    e.error = Some(
                        if op.outcome == EventType::Fail {
                            "connection refused"
                        } else {
                            "timeout"
                        }
                        .into(),
                    );
                }
                emit(&mut e, &mut sink);
                let think = rng.random_range(0..1_000_000u64);
                push(&mut heap, now + 1 + think, Action::Invoke(p));
            }
            Action::Nemesis(start) => {
                if issued >= cfg.ops {
                    continue;
                }
                let mut e = Event {
                    index: 0,
                    process: Process::Nemesis,
                    kind: EventType::Info,
                    f: if start {
                        Function::Start
                    } else {
                        Function::Stop
                    },
                    time: now,
                    key: None,
                    value: None,
                    values: None,
                    observed: None,
                    node: None,
                    error: None,
                    fault: Some(FaultKind::Partition),
                    detail: start.then(|| {
                        FaultDetail::Other(serde_json::json!({"grudge": {"n1": ["n2", "n3"]}}))
                    }),
                };
                emit(&mut e, &mut sink);
                let every = cfg.nemesis_every_ns.unwrap_or(1);
                push(&mut heap, now + every / 2, Action::Nemesis(!start));
            }
        }
    }
    final_lines(&store, cfg.conflict)
}

fn event(p: Process, kind: EventType, op: &Pending, time: u64) -> Event {
    Event {
        index: 0,
        process: p,
        kind,
        f: op.f,
        time,
        key: Some(op.key.clone()),
        value: op.value.clone(),
        values: None,
        observed: op.observed.clone(),
        node: Some("n1".into()),
        error: None,
        fault: None,
        detail: None,
    }
}

fn final_lines(store: &Store, c: Conflict) -> Vec<FinalLine> {
    let nodes = ["n1", "n2", "n3"];
    let mut out = vec![FinalLine::Summary(FinalSummary {
        nodes: nodes.iter().map(|&n| n.into()).collect(),
        converged: true,
        healed_at: 0,
        converged_at: Some(0),
        rf: None,
        ..FinalSummary::default()
    })];
    let state: Vec<(String, Vec<String>)> = match c {
        Conflict::Lww => store
            .lww
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.iter().cloned().collect()))
            .collect(),
        Conflict::Dvv => store
            .dvv
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    for n in nodes {
        for (k, v) in &state {
            out.push(FinalLine::Entry(ReplicaEntry {
                node: n.into(),
                key: k.clone(),
                values: v.clone(),
                tombstone: v.is_empty(),
                version: serde_json::Value::Null,
            }));
        }
    }
    out
}

/// Convenience: collect a whole simulated history in memory.
pub fn history(cfg: &SimConfig) -> (Vec<Event>, Vec<FinalLine>) {
    let mut events = Vec::new();
    let fin = run(cfg, |e| events.push(e.clone()));
    (events, fin)
}

//! Property tests over simulated histories:
//! - a correct register (lww, or dvv with or without contexts) never flags;
//! - dropping an acknowledged write from a correct final state always flags;
//! - reordering lines of concurrent ops never changes a verdict.
mod support;
use checkers::history::{Event, EventType, FinalLine, Function, Process};
use checkers::{CheckConfig, Conflict, Quorum, Results, Validity, check_all};
use proptest::prelude::*;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::collections::HashMap;
use support::sim::{SimConfig, history};
use workloads::{WorkloadConfig, WorkloadKind};

fn sim(seed: u64, conflict: Conflict, kind: WorkloadKind, keys: u64, skew_ns: u64) -> SimConfig {
    SimConfig {
        workload: WorkloadConfig {
            kind,
            keys,
            seed,
            ..WorkloadConfig::default()
        },
        processes: 5,
        ops: 300,
        conflict,
        info_share: 0.1,
        fail_share: 0.05,
        skew_ns,
        nemesis_every_ns: Some(40_000_000),
        seed,
    }
}

/// The simulated store is one linearizable copy, which is what strict
/// quorums with R + W > N promise: read-based detection is on.
fn cfg(conflict: Conflict) -> CheckConfig {
    CheckConfig {
        conflict,
        quorum: Some(Quorum { n: 3, r: 2, w: 2 }),
        ..CheckConfig::default()
    }
}

/// Every op of a history: (invoke, completion) events paired per process.
fn ops(events: &[Event]) -> Vec<(Event, Option<Event>)> {
    let mut open: HashMap<u32, usize> = HashMap::new();
    let mut out: Vec<(Event, Option<Event>)> = Vec::new();
    for e in events {
        let Process::Client(p) = e.process else {
            continue;
        };
        if e.kind == EventType::Invoke {
            open.insert(p, out.len());
            out.push((e.clone(), None));
        } else if let Some(i) = open.remove(&p) {
            out[i].1 = Some(e.clone());
        }
    }
    out
}

fn ok(op: &(Event, Option<Event>)) -> Option<&Event> {
    op.1.as_ref().filter(|c| c.kind == EventType::Ok)
}

fn assert_clean(r: &Results) {
    for c in &r.checks {
        assert_eq!(
            c.valid,
            Validity::True,
            "{}: {:?}",
            c.checker,
            c.anomalies.first()
        );
    }
    assert_eq!(
        r.check("staleness").unwrap().details["all"]["stale_reads"],
        0,
        "a linearizable store never serves a stale read"
    );
    let s = &r.check("sessions").unwrap().counts;
    assert_eq!(
        s["read-your-writes"] + s["monotonic-reads"],
        0,
        "{:?}",
        r.check("sessions").unwrap().anomalies.first()
    );
}

/// Replaces a key's values on every replica.
fn set_final(fin: &mut [FinalLine], key: &str, values: Vec<String>) {
    for l in fin {
        if let FinalLine::Entry(e) = l
            && e.key == key
        {
            e.tombstone = values.is_empty();
            e.values = values.clone();
        }
    }
}

/// Interleaves the per-process (and nemesis) subsequences at random: each
/// process keeps its order, times are unchanged, lines of concurrent
/// processes move past one another.
fn shuffle_concurrent(events: &[Event], seed: u64) -> Vec<Event> {
    let mut queues: HashMap<Option<u32>, Vec<Event>> = HashMap::new();
    for e in events.iter().rev() {
        let p = match e.process {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        };
        queues.entry(p).or_default().push(e.clone());
    }
    let mut keys: Vec<Option<u32>> = queues.keys().copied().collect();
    keys.sort();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = Vec::with_capacity(events.len());
    while !keys.is_empty() {
        let i = rng.random_range(0..keys.len());
        let q = queues.get_mut(&keys[i]).unwrap();
        let mut e = q.pop().unwrap();
        e.index = out.len() as u64;
        out.push(e);
        if q.is_empty() {
            keys.remove(i);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn correct_lww_register_never_flags(seed in any::<u64>()) {
        let (events, fin) = history(&sim(seed, Conflict::Lww, WorkloadKind::Register, 4, 0));
        assert_clean(&check_all(&events, &fin, &cfg(Conflict::Lww)));
    }

    #[test]
    fn correct_dvv_store_never_flags(seed in any::<u64>(), causal in any::<bool>()) {
        let kind = if causal { WorkloadKind::Causal } else { WorkloadKind::Register };
        let (events, fin) = history(&sim(seed, Conflict::Dvv, kind, 4, 0));
        assert_clean(&check_all(&events, &fin, &cfg(Conflict::Dvv)));
    }

    #[test]
    fn lww_final_state_reverted_past_an_acknowledged_write_is_flagged(seed in any::<u64>()) {
        let (events, mut fin) = history(&sim(seed, Conflict::Lww, WorkloadKind::Register, 3, 0));
        let all = ops(&events);
        // A key whose final value comes from an ok write `a`, and an ok write
        // `b` of the same key that strictly precedes `a`.
        let finals: HashMap<String, String> = fin.iter().filter_map(|l| match l {
            FinalLine::Entry(e) if !e.values.is_empty() => Some((e.key.clone(), e.values[0].clone())),
            _ => None,
        }).collect();
        let pick = all.iter().filter_map(|a| {
            ok(a)?;
            let (k, v) = (a.0.key.clone()?, a.0.value.clone()?);
            (finals.get(&k) == Some(&v)).then_some(())?;
            all.iter().find_map(|b| {
                let bc = ok(b)?;
                (b.0.f == Function::Write && b.0.key.as_ref() == Some(&k) && bc.time < a.0.time)
                    .then(|| (k.clone(), b.0.value.clone().unwrap()))
            })
        }).next();
        prop_assume!(pick.is_some());
        let (key, older) = pick.unwrap();
        set_final(&mut fin, &key, vec![older]);
        let r = check_all(&events, &fin, &cfg(Conflict::Lww));
        // One home per anomaly: a lost write, or, when an acknowledged
        // delete removed the older value and no acknowledged write strictly
        // follows that delete, a resurrection (the writes concurrent with
        // the delete may have been deleted by it).
        let lost = r.check("lost-updates").unwrap().counts["lost-write"];
        let resurrected = r.check("resurrection").unwrap().counts["resurrected-value"];
        prop_assert!(lost + resurrected >= 1);
        prop_assert_eq!(r.valid, Validity::False);
    }

    #[test]
    fn dvv_sibling_of_an_acknowledged_write_dropped_is_flagged(seed in any::<u64>(), causal in any::<bool>()) {
        let kind = if causal { WorkloadKind::Causal } else { WorkloadKind::Register };
        let (events, mut fin) = history(&sim(seed, Conflict::Dvv, kind, 3, 0));
        let all = ops(&events);
        let observed: Vec<String> = all.iter()
            .filter(|o| o.1.as_ref().is_none_or(|c| c.kind != EventType::Fail))
            .flat_map(|o| o.0.observed.clone().unwrap_or_default())
            .collect();
        let finals: Vec<(String, Vec<String>)> = fin.iter().filter_map(|l| match l {
            FinalLine::Entry(e) if e.node == "n1" => Some((e.key.clone(), e.values.clone())),
            _ => None,
        }).collect();
        let pick = finals.iter().find_map(|(k, vals)| {
            vals.iter().find(|v| {
                !observed.contains(v) && all.iter().any(|o| ok(o).is_some() && o.0.value.as_ref() == Some(v))
            }).map(|v| (k.clone(), vals.iter().filter(|x| *x != v).cloned().collect::<Vec<_>>()))
        });
        prop_assume!(pick.is_some());
        let (key, rest) = pick.unwrap();
        set_final(&mut fin, &key, rest);
        let r = check_all(&events, &fin, &cfg(Conflict::Dvv));
        prop_assert!(r.check("lost-updates").unwrap().counts["lost-write"] >= 1);
        prop_assert_eq!(r.valid, Validity::False);
    }

    #[test]
    fn reordering_concurrent_lines_never_changes_a_verdict(seed in any::<u64>(), skewed in any::<bool>(), dvv in any::<bool>()) {
        let conflict = if dvv { Conflict::Dvv } else { Conflict::Lww };
        let kind = if dvv { WorkloadKind::Causal } else { WorkloadKind::Register };
        // A skewed lww store loses updates, so verdicts are not all trivially true.
        let skew = if skewed && !dvv { 30_000_000 } else { 0 };
        let (events, fin) = history(&sim(seed, conflict, kind, 3, skew));
        let shuffled = shuffle_concurrent(&events, seed ^ 0x5eed);
        prop_assert_ne!(&events, &shuffled);
        let a = check_all(&events, &fin, &cfg(conflict));
        let b = check_all(&shuffled, &fin, &cfg(conflict));
        prop_assert_eq!(a.valid, b.valid);
        for (x, y) in a.checks.iter().zip(&b.checks) {
            prop_assert_eq!(&x.checker, &y.checker);
            prop_assert_eq!(x.valid, y.valid, "{}", x.checker);
            prop_assert_eq!(&x.counts, &y.counts, "{}", x.checker);
            prop_assert_eq!(&x.details, &y.details, "{}", x.checker);
        }
    }
}

#[test]
fn skewed_lww_store_loses_writes_so_the_reorder_property_is_not_vacuous() {
    // Guards the reorder property against vacuity: a skewed store's
    // histories have invalid verdicts and stale reads to preserve.
    let mut invalid = 0;
    let mut stale = 0;
    let mut lost = 0;
    let mut observed = 0;
    for seed in 0..10 {
        let (events, fin) = history(&sim(
            seed,
            Conflict::Lww,
            WorkloadKind::Register,
            3,
            30_000_000,
        ));
        let r = check_all(&events, &fin, &cfg(Conflict::Lww));
        invalid += u32::from(r.valid == Validity::False);
        stale += r.check("staleness").unwrap().details["all"]["stale_reads"]
            .as_u64()
            .unwrap();
        lost += r.check("lost-updates").unwrap().counts["lost-write"];
        observed += r.check("lost-updates").unwrap().counts["lost-write-observed"];
    }
    // The reads catch losses the final state no longer shows (later writes
    // overwrote the key).
    assert!(
        invalid > 0 && stale > 0 && lost > 0 && observed > 0,
        "invalid {invalid}, stale {stale}, lost {lost}, observed during the run {observed}"
    );
}

//! The fault schedule: a pure function from the seed to a list of timed
//! faults, so the same seed injects the same faults at the same offsets.
//!
//! Every enabled fault family has its own cycle, as Jepsen's composed nemeses
//! do: a fault of that kind lasts one interval, then the cluster gets one
//! quiet interval of it. The families' cycles are staggered by a fraction of an
//! interval, so faults of different kinds overlap part of the time (a clock
//! skew during a partition is what defeats hybrid logical clocks). Crash,
//! pause and wipe form one family with one cycle (each occurrence draws one
//! of them), so at most `max_down` nodes are down at once.
//!
//! The `link` fault is no family's: one per run, from the first interval
//! for `link_cut`, one random pair of nodes cut both ways while every other
//! fault goes on (the runner cuts the union of the partitions in effect).
//! It exists for what must not outlive `gc_grace`: a hint, a replica's view
//! of a key, both held across one broken link.
//!
//! Every enabled down kind runs at least once when the family has a turn
//! for each: an occurrence drawing one of two kinds independently leaves
//! one run in 2^6 of the default test without a wipe, and a mechanism
//! that never runs inside a test cannot fail inside it (a zoo run of
//! actor-reuse, which only a wipe sets off, passed so). The fix-up draws
//! nothing from the stream, so a plan that had every kind is unchanged;
//! a run stored before it whose plan left a kind out replays differently.
//!
//! Wipes are spaced: a wipe drawn less than `wipe_gap` after the previous
//! wipe's node came back is a crash of that node instead. Two replicas of a
//! key wiped within one repair lag lose every write only they held (rf = 3,
//! w = 2 survives one lost replica, not two before repair), and that is the
//! cluster beyond its design, not an anomaly of the node under test.
//!
//! Which nodes, which shape and which offsets are drawn from a SplitMix64
//! stream seeded from the run's seed. SplitMix64 is written out here rather
//! than taken from `rand` so a schedule stays reproducible across dependency
//! upgrades: a stored seed must replay the same faults in every future
//! version.

use super::FaultKind;
use crate::net::{Grudge, PartitionShape};
use crate::node_id::NodeId;
use checkers::fault_detail::FaultDetail;
use std::collections::BTreeMap;
use std::time::Duration;

/// A tiny, fixed PRNG (Steele, Lea & Flood's SplitMix64).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; the modulo bias is negligible for the
    /// small `n` used here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `-bound..=bound`.
    pub fn signed(&mut self, bound: i64) -> i64 {
        let span = bound.unsigned_abs() * 2 + 1;
        (self.next_u64() % span) as i64 - bound.abs()
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// What one fault does when it starts; its stop undoes it. The history
/// records it as its [`FaultDetail`] ([`FaultAction::detail`]).
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    Partition {
        shape: PartitionShape,
        grudge: Grudge,
    },
    /// Each listed node's clock jumps by its offset.
    ClockBump {
        offsets_ms: BTreeMap<NodeId, i64>,
    },
    /// Each listed node flips between two offsets every `period`.
    ClockStrobe {
        nodes: Vec<NodeId>,
        offsets_ms: (i64, i64),
        period: Duration,
    },
    Crash {
        nodes: Vec<NodeId>,
    },
    Pause {
        nodes: Vec<NodeId>,
    },
    Wipe {
        node: NodeId,
    },
    /// One link cut both ways ([`Grudge::link`]).
    LinkCut {
        grudge: Grudge,
    },
}

impl FaultAction {
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Partition { .. } => FaultKind::Partition,
            FaultAction::ClockBump { .. } | FaultAction::ClockStrobe { .. } => FaultKind::Clock,
            FaultAction::Crash { .. } => FaultKind::Crash,
            FaultAction::Pause { .. } => FaultKind::Pause,
            FaultAction::Wipe { .. } => FaultKind::Wipe,
            FaultAction::LinkCut { .. } => FaultKind::Link,
        }
    }

    /// The nodes this fault takes down (crash, pause, wipe).
    pub fn downed_nodes(&self) -> Vec<NodeId> {
        match self {
            FaultAction::Crash { nodes } | FaultAction::Pause { nodes } => nodes.clone(),
            FaultAction::Wipe { node } => vec![node.clone()],
            _ => Vec::new(),
        }
    }

    /// The history's `detail` for this fault: the same action and nodes,
    /// the shape by its name, the strobe's period in whole milliseconds.
    pub fn detail(&self) -> FaultDetail {
        match self {
            FaultAction::Partition { shape, grudge } => FaultDetail::Partition {
                grudge: grudge.0.clone(),
                shape: shape.to_string(),
            },
            FaultAction::ClockBump { offsets_ms } => FaultDetail::ClockBump {
                offsets_ms: offsets_ms.clone(),
            },
            FaultAction::ClockStrobe {
                nodes,
                offsets_ms,
                period,
            } => FaultDetail::ClockStrobe {
                nodes: nodes.clone(),
                offsets_ms: *offsets_ms,
                period_ms: u64::try_from(period.as_millis()).unwrap_or(u64::MAX),
            },
            FaultAction::Crash { nodes } => FaultDetail::Crash {
                nodes: nodes.clone(),
            },
            FaultAction::Pause { nodes } => FaultDetail::Pause {
                nodes: nodes.clone(),
            },
            FaultAction::Wipe { node } => FaultDetail::Wipe { node: node.clone() },
            FaultAction::LinkCut { grudge } => FaultDetail::Partition {
                grudge: grudge.0.clone(),
                shape: "link".into(),
            },
        }
    }
}

/// One fault and when it starts and stops (offsets from the test start).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFault {
    pub start: Duration,
    pub stop: Duration,
    pub action: FaultAction,
}

/// The inputs of [`plan`].
#[derive(Debug, Clone)]
pub struct ScheduleParams {
    pub faults: Vec<FaultKind>,
    pub nodes: Vec<NodeId>,
    pub time_limit: Duration,
    pub interval: Duration,
    pub clock_skew: Duration,
    pub max_down: usize,
    /// The least time from a wipe's stop (its node back, empty) to the next
    /// wipe's start; `None`: at most one wipe per run (nothing repairs a
    /// wiped node's peers in bounded time).
    pub wipe_gap: Option<Duration>,
    /// How long the `link` fault cuts its link (clipped to the test).
    pub link_cut: Duration,
}

/// Mixed into the seed so the fault stream is independent of the op streams.
const NEMESIS_STREAM: u64 = 0x6e65_6d65_7369_7300; // "nemesis\0"

/// Faults that take nodes down share one cycle, so `max_down` bounds the
/// nodes down at once and every enabled down kind gets its turns.
const DOWN_KINDS: [FaultKind; 3] = [FaultKind::Crash, FaultKind::Pause, FaultKind::Wipe];

/// Every fault of a run, in start order.
pub fn plan(seed: u64, p: &ScheduleParams) -> Vec<PlannedFault> {
    let mut out: Vec<PlannedFault> = Vec::new();
    if p.faults.is_empty() || p.nodes.is_empty() || p.interval.is_zero() {
        return out;
    }
    let mut rng = SplitMix64::new(seed ^ NEMESIS_STREAM);
    // One cycle per family: partition, clock, and all down kinds together.
    let mut families: Vec<Vec<FaultKind>> = Vec::new();
    for kind in [FaultKind::Partition, FaultKind::Clock] {
        if p.faults.contains(&kind) {
            families.push(vec![kind]);
        }
    }
    let downs: Vec<FaultKind> = DOWN_KINDS
        .into_iter()
        .filter(|k| p.faults.contains(k))
        .collect();
    if !downs.is_empty() {
        families.push(downs.clone());
    }
    // Every occurrence's window, family by family, staggered, then in time order.
    let count = families.len() as u32;
    let mut windows: Vec<(Duration, Duration, usize)> = Vec::new();
    for i in 0..families.len() {
        let mut start = p.interval + p.interval * i as u32 / count;
        while start < p.time_limit {
            let stop = (start + p.interval).min(p.time_limit);
            windows.push((start, stop, i));
            start = stop + p.interval;
        }
    }
    windows.sort();
    let mut last_wipe_stop: Option<Duration> = None;
    for (start, stop, family) in windows {
        let kinds = &families[family];
        let kind = kinds[rng.below(kinds.len())];
        let mut action = draw(kind, &mut rng, p);
        if let FaultAction::Wipe { node } = &action {
            let too_soon = match (last_wipe_stop, p.wipe_gap) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(prev), Some(gap)) => start < prev.saturating_add(gap),
            };
            if too_soon {
                action = FaultAction::Crash {
                    nodes: vec![node.clone()],
                };
            } else {
                last_wipe_stop = Some(stop);
            }
        }
        out.push(PlannedFault {
            start,
            stop,
            action,
        });
    }
    if downs.len() > 1 {
        give_every_down_kind_a_turn(&mut out, &downs);
    }
    // Drawn after every family, so enabling it leaves their draws as they were.
    // It starts half an interval in, before the first partition or crash:
    // only writes in a cut's first seconds (the hint window) are hinted, and
    // under another fault the clients at its ends spend those seconds in
    // timeouts.
    let start = p.interval / 2;
    if p.faults.contains(&FaultKind::Link) && p.nodes.len() >= 2 && start < p.time_limit {
        let link = PlannedFault {
            start,
            stop: start.saturating_add(p.link_cut).min(p.time_limit),
            action: draw(FaultKind::Link, &mut rng, p),
        };
        confine_wipes_to_one_end(&mut out, &link, p.interval);
        out.push(link);
        out.sort_by_key(|f| f.start);
    }
    out
}

/// Turns the earliest occurrence of a down kind drawn more than once into
/// each enabled down kind never drawn, on the same first node; earliest,
/// so what the fault sets off has the rest of the test to show. A missing
/// wipe needs no spacing: it is the run's only one.
fn give_every_down_kind_a_turn(out: &mut [PlannedFault], downs: &[FaultKind]) {
    for &missing in downs {
        let count = |out: &[PlannedFault], kind: FaultKind| {
            out.iter().filter(|f| f.action.kind() == kind).count()
        };
        if count(out, missing) > 0 {
            continue;
        }
        let spare = out.iter().position(|f| {
            let kind = f.action.kind();
            downs.contains(&kind) && count(out, kind) > 1
        });
        let Some(i) = spare else {
            return; // fewer turns than kinds
        };
        let Some(node) = out[i].action.downed_nodes().into_iter().next() else {
            continue;
        };
        out[i].action = match missing {
            FaultKind::Wipe => FaultAction::Wipe { node },
            FaultKind::Pause => FaultAction::Pause { nodes: vec![node] },
            _ => FaultAction::Crash { nodes: vec![node] },
        };
    }
}

/// While a link is cut, a key both its ends hold has one path between them:
/// its third replica, which carries each end's deletes to the other. A wipe
/// of that relay loses the tombstones it had not passed on yet, and the end
/// that coordinated the delete cannot resend them until the link heals,
/// long after `gc_grace`: a resurrection the tombstone rule allows, so no
/// bug of the node (two failures on one replica set is beyond rf = 3, as
/// two wipes within one repair lag are). So a wipe overlapping the cut
/// wipes the link's first end instead, at the same time (the spacing holds):
/// each key the ends share keeps its relay. The second end is spared too:
/// a wipe loses a node's hints, and with both ends wiped no hint held
/// across the cut is left to outlive `gc_grace`, which is what the link
/// is there to test. Its hints replay only once the link has healed and
/// no other partition parts the ends, so the second end is spared until
/// one `interval` after the link heals (a wipe 0.8 s after the heal, under
/// a partition that had kept its hints back, emptied both ends in a run).
/// A run stored before that rule whose plan wiped the second end then
/// replays with the first end wiped.
fn confine_wipes_to_one_end(out: &mut [PlannedFault], link: &PlannedFault, interval: Duration) {
    let FaultAction::LinkCut { grudge } = &link.action else {
        return;
    };
    let mut ends = grudge.0.keys();
    let (Some(first), second) = (ends.next(), ends.next()) else {
        return;
    };
    let replayed_by = link.stop.saturating_add(interval);
    for f in out.iter_mut() {
        let FaultAction::Wipe { node } = &mut f.action else {
            continue;
        };
        let during_cut = f.start < link.stop && link.start < f.stop;
        let before_replay = Some(&*node) == second && f.start < replayed_by;
        if (during_cut || before_replay) && node != first {
            *node = first.clone();
        }
    }
}

fn draw(kind: FaultKind, rng: &mut SplitMix64, p: &ScheduleParams) -> FaultAction {
    let mut nodes = p.nodes.clone();
    rng.shuffle(&mut nodes);
    let some = |rng: &mut SplitMix64, nodes: &[NodeId]| {
        let k = 1 + rng.below(p.max_down.clamp(1, nodes.len()));
        nodes[..k].to_vec()
    };
    let skew = i64::try_from(p.clock_skew.as_millis()).unwrap_or(i64::MAX / 4);
    match kind {
        FaultKind::Partition => {
            let shape = PartitionShape::ALL[rng.below(PartitionShape::ALL.len())];
            FaultAction::Partition {
                shape,
                grudge: shape.grudge(&nodes),
            }
        }
        FaultKind::Clock if rng.below(2) == 0 => FaultAction::ClockBump {
            offsets_ms: nodes
                .iter()
                .map(|n| (n.clone(), rng.signed(skew)))
                .collect(),
        },
        FaultKind::Clock => FaultAction::ClockStrobe {
            nodes: nodes[..1 + rng.below(nodes.len())].to_vec(),
            offsets_ms: (rng.signed(skew), rng.signed(skew)),
            period: Duration::from_millis(100),
        },
        FaultKind::Crash => FaultAction::Crash {
            nodes: some(rng, &nodes),
        },
        FaultKind::Pause => FaultAction::Pause {
            nodes: some(rng, &nodes),
        },
        FaultKind::Wipe => FaultAction::Wipe {
            node: nodes[0].clone(),
        },
        // [`plan`] draws the one cut per run (at least two nodes).
        FaultKind::Link => FaultAction::LinkCut {
            grudge: Grudge::link(&nodes[0], &nodes[1 % nodes.len()]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(faults: Vec<FaultKind>) -> ScheduleParams {
        ScheduleParams {
            faults,
            nodes: NodeId::cluster(5),
            time_limit: Duration::from_secs(60),
            interval: Duration::from_secs(5),
            clock_skew: Duration::from_secs(3),
            max_down: 2,
            wipe_gap: Some(Duration::from_secs(15)),
            link_cut: Duration::from_secs(35),
        }
    }

    #[test]
    fn clock_fault_details_read_back_through_the_checkers_reading() {
        use checkers::fault_detail::ClockOffsets;
        let bump = FaultAction::ClockBump {
            offsets_ms: [(NodeId::nth(0), -4000), (NodeId::nth(1), 1500)].into(),
        };
        let strobe = FaultAction::ClockStrobe {
            nodes: NodeId::cluster(2),
            offsets_ms: (200, -900),
            period: Duration::from_millis(100),
        };
        let read = |a: &FaultAction| a.detail().clock_offsets();
        assert_eq!(
            read(&bump),
            Some(ClockOffsets::PerNode(
                [(NodeId::nth(0), -4000.0), (NodeId::nth(1), 1500.0)].into()
            ))
        );
        assert_eq!(read(&strobe), Some(ClockOffsets::Strobe(200.0, -900.0)));
        let crash = FaultAction::Crash {
            nodes: NodeId::cluster(1),
        };
        assert_eq!(read(&crash), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let p = params(FaultKind::ALL.to_vec());
        assert_eq!(plan(42, &p), plan(42, &p));
        assert_ne!(plan(42, &p), plan(43, &p));
    }

    #[test]
    fn faults_alternate_with_quiet_intervals_inside_the_time_limit() {
        let p = params(vec![FaultKind::Partition]);
        let faults = plan(1, &p);
        assert_eq!(faults.len(), 6); // 5-10, 15-20, ..., 55-60
        for w in faults.windows(2) {
            assert_eq!(w[1].start - w[0].stop, p.interval);
        }
        assert!(
            faults
                .iter()
                .all(|f| f.stop <= p.time_limit && f.start < f.stop)
        );
    }

    #[test]
    fn different_families_overlap_but_a_family_never_overlaps_itself() {
        let p = params(vec![
            FaultKind::Partition,
            FaultKind::Clock,
            FaultKind::Crash,
            FaultKind::Pause,
        ]);
        let faults = plan(3, &p);
        let family = |f: &PlannedFault| match f.action.kind() {
            FaultKind::Crash | FaultKind::Pause | FaultKind::Wipe => "down",
            k => k.name(),
        };
        let mut mixed = 0;
        for (i, a) in faults.iter().enumerate() {
            for b in &faults[i + 1..] {
                if a.start < b.stop && b.start < a.stop {
                    assert_ne!(family(a), family(b), "{a:?} overlaps {b:?}");
                    mixed += 1;
                }
            }
        }
        assert!(mixed > 0, "faults of different families should overlap");
    }

    #[test]
    fn never_more_than_max_down_nodes_down_and_offsets_within_the_skew() {
        let p = params(FaultKind::ALL.to_vec());
        for seed in 0..50 {
            for f in plan(seed, &p) {
                match f.action {
                    FaultAction::Crash { nodes } | FaultAction::Pause { nodes } => {
                        assert!((1..=p.max_down).contains(&nodes.len()));
                    }
                    FaultAction::ClockBump { offsets_ms } => {
                        assert!(offsets_ms.values().all(|o| o.abs() <= 3000));
                    }
                    FaultAction::ClockStrobe {
                        offsets_ms: (a, b), ..
                    } => {
                        assert!(a.abs() <= 3000 && b.abs() <= 3000);
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn every_enabled_kind_and_shape_shows_up_over_many_seeds() {
        let p = params(FaultKind::ALL.to_vec());
        let all: Vec<_> = (0..20).flat_map(|s| plan(s, &p)).collect();
        for kind in FaultKind::ALL {
            assert!(
                all.iter().any(|f| f.action.kind() == kind),
                "{kind} never drawn"
            );
        }
        for shape in PartitionShape::ALL {
            assert!(all.iter().any(
                |f| matches!(f.action, FaultAction::Partition { shape: s, .. } if s == shape)
            ));
        }
    }

    #[test]
    fn wipes_keep_the_gap_and_a_wipe_too_soon_crashes_its_node_instead() {
        let mut p = params(vec![FaultKind::Wipe]);
        p.time_limit = Duration::from_secs(300);
        // Down windows every 10 s, each a wipe: only every second one may be.
        let wipes = |p: &ScheduleParams| -> Vec<(Duration, Duration)> {
            plan(7, p)
                .into_iter()
                .filter(|f| matches!(f.action, FaultAction::Wipe { .. }))
                .map(|f| (f.start, f.stop))
                .collect()
        };
        let spaced = wipes(&p);
        assert!(spaced.len() > 5, "{spaced:?}");
        for w in spaced.windows(2) {
            assert!(w[1].0 >= w[0].1 + Duration::from_secs(15), "{w:?}");
        }
        // The windows it refused are crashes of one node, not gone.
        let all = plan(7, &p);
        assert_eq!(all.len(), 30);
        assert!(all.iter().all(|f| match &f.action {
            FaultAction::Wipe { .. } => true,
            FaultAction::Crash { nodes } => nodes.len() == 1,
            _ => false,
        }));
        p.wipe_gap = None;
        assert_eq!(wipes(&p).len(), 1);
        p.wipe_gap = Some(Duration::ZERO);
        assert_eq!(wipes(&p).len(), 30);
    }

    #[test]
    fn every_enabled_down_kind_runs_in_every_run_that_has_a_turn_for_each() {
        // The default test's faults, then with pauses too (six down turns).
        let default = params(vec![
            FaultKind::Partition,
            FaultKind::Crash,
            FaultKind::Wipe,
            FaultKind::Link,
        ]);
        let mut with_pause = default.clone();
        with_pause.faults.push(FaultKind::Pause);
        for p in [&default, &with_pause] {
            for seed in 0..500 {
                let faults = plan(seed, p);
                for kind in p.faults.iter().filter(|k| DOWN_KINDS.contains(k)) {
                    assert!(
                        faults.iter().any(|f| f.action.kind() == *kind),
                        "seed {seed}: no {kind} in {faults:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_missing_down_kind_takes_the_earliest_spare_turn_and_nothing_else_moves() {
        let at = |s: u64, action: FaultAction| PlannedFault {
            start: Duration::from_secs(s),
            stop: Duration::from_secs(s + 5),
            action,
        };
        let crash = |n: &[usize]| FaultAction::Crash {
            nodes: n.iter().map(|&i| NodeId::nth(i)).collect(),
        };
        let downs = [FaultKind::Crash, FaultKind::Wipe];
        let mut only_crashes = vec![
            at(5, crash(&[2, 0])),
            at(15, crash(&[1])),
            at(25, crash(&[3])),
        ];
        give_every_down_kind_a_turn(&mut only_crashes, &downs);
        let wiped = FaultAction::Wipe {
            node: NodeId::nth(2),
        };
        assert_eq!(
            only_crashes,
            vec![
                at(5, wiped.clone()),
                at(15, crash(&[1])),
                at(25, crash(&[3]))
            ]
        );
        // A plan with every kind already, or a turn too few, is left as drawn.
        let mut both = vec![at(5, crash(&[1])), at(15, wiped)];
        let drawn = both.clone();
        give_every_down_kind_a_turn(&mut both, &downs);
        assert_eq!(both, drawn);
        let mut one_turn = vec![at(5, crash(&[1]))];
        give_every_down_kind_a_turn(&mut one_turn, &downs);
        assert_eq!(one_turn, vec![at(5, crash(&[1]))]);
    }

    /// A plan's one link cut, its grudge, and every other fault in order.
    fn split_link(seed: u64, p: &ScheduleParams) -> (PlannedFault, Grudge, Vec<PlannedFault>) {
        let (mut links, rest): (Vec<_>, Vec<_>) = plan(seed, p)
            .into_iter()
            .partition(|f| f.action.kind() == FaultKind::Link);
        let (Some(link), true) = (links.pop(), links.is_empty()) else {
            panic!("seed {seed}: not one link cut: {links:?}")
        };
        let FaultAction::LinkCut { grudge } = &link.action else {
            unreachable!()
        };
        let grudge = grudge.clone();
        (link, grudge, rest)
    }

    #[test]
    fn while_a_link_is_cut_only_its_first_end_is_wiped_and_the_second_until_its_hints_replay() {
        // The default test's families, so the downs' cycle is staggered as
        // there (a turn starts 1.7 s before the end, after the link heals).
        let downs = params(vec![
            FaultKind::Partition,
            FaultKind::Clock,
            FaultKind::Crash,
            FaultKind::Wipe,
        ]);
        let mut with_link = downs.clone();
        with_link.faults.push(FaultKind::Link);
        // The default test's cut, which heals 2.5 s before the end.
        with_link.link_cut = Duration::from_secs(55);
        let mut moved = 0;
        let mut moved_after_heal = 0;
        for seed in 0..200 {
            let plain = plan(seed, &downs);
            let (link, grudge, rest) = split_link(seed, &with_link);
            let mut ends = grudge.0.keys();
            let (first_end, second_end) = (ends.next().unwrap(), ends.next().unwrap());
            let replayed_by = link.stop + with_link.interval;
            // The same faults at the same times; only wipes' nodes move.
            assert_eq!(rest.len(), plain.len());
            for (got, was) in rest.iter().zip(&plain) {
                assert_eq!((got.start, got.stop), (was.start, was.stop));
                match (&was.action, &got.action) {
                    (FaultAction::Wipe { node: drawn }, FaultAction::Wipe { node })
                        if got.start < link.stop && drawn != first_end =>
                    {
                        assert_eq!(node, first_end, "seed {seed}");
                        moved += 1;
                    }
                    (FaultAction::Wipe { node: drawn }, FaultAction::Wipe { node })
                        if got.start < replayed_by && drawn == second_end =>
                    {
                        assert_eq!(node, first_end, "seed {seed}");
                        moved_after_heal += 1;
                    }
                    (a, b) => assert_eq!(a, b, "seed {seed}"),
                }
            }
        }
        assert!(moved > 50, "only {moved} wipes moved in 200 seeds");
        assert!(
            moved_after_heal > 0,
            "no wipe of the second end after the heal in 200 seeds"
        );
    }

    #[test]
    fn the_link_fault_cuts_one_pair_once_and_leaves_the_other_faults_alone() {
        let others = params(vec![FaultKind::Partition, FaultKind::Crash]);
        let mut with_link = others.clone();
        with_link.faults.push(FaultKind::Link);
        for seed in 0..20 {
            let plain = plan(seed, &others);
            let (link, grudge, rest) = split_link(seed, &with_link);
            assert_eq!(rest, plain, "seed {seed}");
            assert_eq!((link.start, link.stop), (ms(2500), ms(37_500)));
            // Two nodes, each rejecting only the other.
            assert_eq!(grudge.0.len(), 2);
            assert!(grudge.0.values().all(|r| r.len() == 1));
        }
        // Clipped to the test when gc_grace is longer than it.
        with_link.link_cut = Duration::MAX;
        let link = plan(1, &with_link)
            .into_iter()
            .find(|f| f.action.kind() == FaultKind::Link)
            .unwrap();
        assert_eq!(link.stop, with_link.time_limit);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_faults_enabled_means_an_empty_schedule() {
        assert!(plan(1, &params(vec![])).is_empty());
    }
}

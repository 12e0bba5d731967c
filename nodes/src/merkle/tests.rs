//! Session-level specifications: after one session both replicas hold the
//! merge of the two, and exactly the differing entries crossed the wire.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

/// A store that remembers which keys were merged into it (= crossed the wire
/// towards it).
struct Recording<S> {
    inner: S,
    received: Vec<Vec<u8>>,
}

impl<S> Recording<S> {
    fn new(inner: S) -> Self {
        Recording {
            inner,
            received: Vec::new(),
        }
    }
}

impl<S: RangeStore> RangeStore for Recording<S> {
    type Error = S::Error;
    fn tree(&self) -> &MerkleTree {
        self.inner.tree()
    }
    fn digests_in(&self, span: HashSpan) -> Result<Vec<EntryDigest>, S::Error> {
        self.inner.digests_in(span)
    }
    fn entries_in(&self, span: HashSpan) -> Result<Vec<WireEntry>, S::Error> {
        self.inner.entries_in(span)
    }
    fn merge(&mut self, entry: WireEntry) -> Result<(), S::Error> {
        self.received.push(entry.key.clone());
        self.inner.merge(entry)
    }
    fn version_order(&self, mine: &[u8], theirs: &[u8]) -> VersionOrder {
        self.inner.version_order(mine, theirs)
    }
}

type Replica<R> = BTreeMap<Vec<u8>, <R as ConflictRule>::Record>;

/// What a perfect session moves: one entry per key one side lacks or holds
/// older, two per key where neither is newer.
fn ideal_moves<R: ConflictRule>(
    rule: &R,
    a: &Replica<R>,
    b: &Replica<R>,
) -> (u64, BTreeSet<Vec<u8>>) {
    let mut moves = 0;
    let mut differing = BTreeSet::new();
    for key in a.keys().chain(b.keys()) {
        if differing.contains(key) {
            continue;
        }
        let n = match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) if x == y => 0,
            (Some(x), Some(y)) => match rule.version_order(&rule.version(x), &rule.version(y)) {
                VersionOrder::Newer | VersionOrder::Older => 1,
                VersionOrder::Same | VersionOrder::Concurrent => 2,
            },
            _ => 1,
        };
        if n > 0 {
            moves += n;
            differing.insert(key.clone());
        }
    }
    (moves, differing)
}

fn merged<R: ConflictRule>(rule: &R, a: &Replica<R>, b: &Replica<R>) -> Replica<R> {
    let mut out = a.clone();
    for (key, record) in b {
        let m = match out.get(key) {
            Some(local) => rule.merge(local, record),
            None => record.clone(),
        };
        out.insert(key.clone(), m);
    }
    out
}

fn assert_tree_matches_entries<R: ConflictRule>(store: &MemoryRangeStore<R>) {
    let digests = store.digests_in(HashSpan::ALL).unwrap();
    let rebuilt = MerkleTree::from_entries(
        store.tree().leaf_bits(),
        digests.iter().map(|d| (d.key_hash, d.entry_hash)),
    )
    .unwrap();
    assert_eq!(
        store.tree(),
        &rebuilt,
        "incrementally kept tree differs from a rebuild"
    );
}

/// Runs one Merkle session between `a` (initiator) and `b` and checks the
/// specification. Returns the session's stats.
fn check_session<R: ConflictRule + Clone>(
    rule: R,
    leaf_bits: u8,
    a: Replica<R>,
    b: Replica<R>,
    seed: u64,
) -> SessionStats {
    let mut sa =
        Recording::new(MemoryRangeStore::from_records(rule.clone(), leaf_bits, a.clone()).unwrap());
    let mut sb =
        Recording::new(MemoryRangeStore::from_records(rule.clone(), leaf_bits, b.clone()).unwrap());
    let stats = run_local(SessionConfig::merkle(seed), &mut sa, &mut sb).unwrap();
    let expected = merged(&rule, &a, &b);
    assert_eq!(sa.inner.snapshot(), expected, "initiator did not converge");
    assert_eq!(sb.inner.snapshot(), expected, "responder did not converge");
    assert_tree_matches_entries(&sa.inner);
    assert_tree_matches_entries(&sb.inner);
    let (ideal, differing) = ideal_moves(&rule, &a, &b);
    for key in sa.received.iter().chain(&sb.received) {
        assert!(
            differing.contains(key),
            "equal key {key:?} crossed the wire"
        );
    }
    assert_eq!(stats.keys_sent, sb.received.len() as u64);
    assert_eq!(stats.keys_received, sa.received.len() as u64);
    assert_eq!(
        stats.keys_moved(),
        ideal,
        "moved more or fewer entries than differ"
    );
    assert_eq!(stats.ranges_differing, u64::from(!differing.is_empty()));
    assert_eq!(stats.ranges_unconverged, 0);
    stats
}

/// A key's record on one replica: (timestamp, tombstone, value salt).
type LwwSide = (u64, bool, u8);

/// One side's state of a key: absent, or a record built from a small domain
/// so the two sides often agree, often tie and often conflict.
fn lww_side() -> impl Strategy<Value = Option<(u64, bool, u8)>> {
    prop::option::weighted(0.8, (1u64..4, prop::bool::weighted(0.25), 0u8..2))
}

fn lww_record(key: usize, (timestamp, tombstone, salt): (u64, bool, u8)) -> LwwRecord {
    let value = if tombstone {
        Vec::new()
    } else {
        format!("v{key}-{timestamp}-{salt}").into_bytes()
    };
    LwwRecord {
        timestamp,
        tombstone,
        value,
    }
}

fn lww_replicas(
    sides: &[(Option<LwwSide>, Option<LwwSide>, bool)],
) -> (Replica<LwwRule>, Replica<LwwRule>) {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    for (i, (x, y, same)) in sides.iter().enumerate() {
        let key = format!("k{i}").into_bytes();
        // `same`: most keys of a real range agree; make that common.
        let y = if *same { x } else { y };
        if let Some(x) = x {
            a.insert(key.clone(), lww_record(i, *x));
        }
        if let Some(y) = y {
            b.insert(key, lww_record(i, *y));
        }
    }
    (a, b)
}

fn sibling_record(dots: &BTreeSet<u8>) -> SiblingRecord {
    SiblingRecord {
        writes: dots
            .iter()
            // Dots divisible by 3 are deletes.
            .map(|d| {
                (
                    u64::from(*d),
                    (d % 3 != 0).then(|| format!("w{d}").into_bytes()),
                )
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn lww_session_converges_to_the_merge_moving_only_differing_entries(
        leaf_bits in 0u8..8,
        sides in prop::collection::vec((lww_side(), lww_side(), prop::bool::weighted(0.6)), 0..300),
        seed in any::<u64>(),
    ) {
        let (a, b) = lww_replicas(&sides);
        check_session(LwwRule, leaf_bits, a, b, seed);
    }

    #[test]
    fn sibling_session_converges_to_the_union_moving_only_differing_entries(
        leaf_bits in 0u8..8,
        sides in prop::collection::vec(
            (prop::collection::btree_set(0u8..6, 0..3), prop::collection::btree_set(0u8..6, 0..3), prop::bool::weighted(0.5)),
            0..200,
        ),
        seed in any::<u64>(),
    ) {
        let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
        for (i, (x, y, same)) in sides.iter().enumerate() {
            let key = format!("k{i}").into_bytes();
            let y = if *same { x } else { y };
            // An empty dot set stands for "key absent on this replica".
            if !x.is_empty() { a.insert(key.clone(), sibling_record(x)); }
            if !y.is_empty() { b.insert(key, sibling_record(y)); }
        }
        check_session(SiblingRule, leaf_bits, a, b, seed);
    }
}

#[test]
fn equal_ranges_cost_one_round_trip_and_no_entries() {
    let sides: Vec<_> = (0..500)
        .map(|i| (Some((1 + i % 3, false, 0u8)), None, true))
        .collect();
    let (a, b) = lww_replicas(&sides);
    let stats = check_session(LwwRule, 6, a, b, 1);
    assert_eq!(stats.round_trips, 1);
    assert_eq!(stats.passes, 0);
    assert_eq!(stats.keys_moved(), 0);
}

#[test]
fn one_differing_key_among_many_moves_one_entry() {
    let mut sides: Vec<_> = (0..20_000)
        .map(|_| (Some((1, false, 0u8)), None, true))
        .collect();
    sides[12_345] = (Some((2, false, 0)), Some((1, false, 0)), false);
    let (a, b) = lww_replicas(&sides);
    // Few leaves: the session has to split leaves on key-hash bits below them.
    let stats = check_session(LwwRule, 4, a, b, 2);
    assert_eq!((stats.keys_sent, stats.keys_received), (1, 0));
}

#[test]
fn newer_entry_on_the_responder_is_pulled_not_pushed() {
    let mut sides: Vec<_> = (0..1000)
        .map(|_| (Some((1, false, 0u8)), None, true))
        .collect();
    sides[7] = (Some((1, false, 0)), Some((3, true, 0)), false);
    let (a, b) = lww_replicas(&sides);
    let stats = check_session(LwwRule, 8, a, b, 3);
    assert_eq!((stats.keys_sent, stats.keys_received), (0, 1));
}

#[test]
fn empty_responder_gets_everything_without_descent() {
    let sides: Vec<_> = (0..3000)
        .map(|_| (Some((1, false, 0u8)), None, false))
        .collect();
    let (a, b) = lww_replicas(&sides);
    let stats = check_session(LwwRule, 10, a, b, 4);
    assert_eq!(stats.keys_sent, 3000);
    // Open, one step carrying every entry, closing root check.
    assert_eq!(stats.round_trips, 3);
}

#[test]
fn full_mode_moves_every_entry_both_ways_and_converges() {
    let sides: Vec<_> = (0..5000)
        .map(|i| {
            (
                Some((1 + (i % 2) as u64, false, 0u8)),
                Some((1, i % 5 == 0, 0u8)),
                i % 7 != 0,
            )
        })
        .collect();
    let (a, b) = lww_replicas(&sides);
    let mut sa = MemoryRangeStore::from_records(LwwRule, 6, a.clone()).unwrap();
    let mut sb = MemoryRangeStore::from_records(LwwRule, 6, b.clone()).unwrap();
    let stats = run_local(SessionConfig::full(5), &mut sa, &mut sb).unwrap();
    let expected = merged(&LwwRule, &a, &b);
    assert_eq!(sa.snapshot(), expected);
    assert_eq!(sb.snapshot(), expected);
    assert_eq!(stats.keys_sent, a.len() as u64);
    assert_eq!(stats.keys_received, b.len() as u64);
    assert_eq!(stats.ranges_differing, 1);
}

#[test]
fn step_before_open_is_a_protocol_error() {
    let mut store = MemoryRangeStore::new(LwwRule, 4).unwrap();
    let step = Request::Step {
        keep: vec![],
        pull_all: vec![],
        pull: vec![],
        push: vec![],
    };
    let err = Responder::new().handle(&mut store, step).unwrap_err();
    assert!(matches!(err, SessionError::Protocol(_)), "{err}");
}

#[test]
fn purge_and_rewrite_keep_the_tree_equal_to_a_rebuild() {
    let mut store = MemoryRangeStore::new(LwwRule, 5).unwrap();
    for i in 0..300u64 {
        store.put(
            format!("k{i}").into_bytes(),
            lww_record(i as usize, (1, i % 4 == 0, 0)),
        );
    }
    for i in (0..300u64).step_by(4) {
        store.purge(format!("k{i}").as_bytes());
    }
    for i in (1..300u64).step_by(5) {
        store.put(
            format!("k{i}").into_bytes(),
            lww_record(i as usize, (2, false, 1)),
        );
    }
    // 75 purged, 15 of them written again.
    assert_eq!(store.len(), 240);
    assert_tree_matches_entries(&store);
}

#[test]
fn a_write_racing_the_session_is_repaired_by_another_pass() {
    let mut sides: Vec<_> = (0..2000)
        .map(|_| (Some((1, false, 0u8)), None, true))
        .collect();
    sides[5] = (Some((2, false, 0)), Some((1, false, 0)), false);
    let (a, b) = lww_replicas(&sides);
    let mut sa = MemoryRangeStore::from_records(LwwRule, 6, a).unwrap();
    let mut sb = MemoryRangeStore::from_records(LwwRule, 6, b).unwrap();
    let mut initiator = Initiator::new(SessionConfig::merkle(9));
    let mut responder = Responder::new();
    let mut request = initiator.start(&sa).unwrap();
    let mut exchanges = 0;
    loop {
        let response = responder.handle(&mut sb, request).unwrap();
        exchanges += 1;
        if exchanges == 2 {
            // A client write lands on the responder mid-session, in a subtree
            // the first pass has already found equal or will never visit.
            sb.put(b"racer".to_vec(), lww_record(0, (5, false, 0)));
        }
        match initiator.on_response(&mut sa, response).unwrap() {
            Some(next) => request = next,
            None => break,
        }
    }
    assert!(initiator.is_done());
    let stats = initiator.stats();
    assert_eq!(stats.passes, 2, "{stats:?}");
    assert_eq!(stats.ranges_unconverged, 0);
    assert_eq!(sa.snapshot(), sb.snapshot());
    assert_eq!(sa.get(b"racer"), Some(&lww_record(0, (5, false, 0))));
}

#[test]
fn a_session_that_cannot_converge_gives_up_after_max_passes() {
    let mut sa = MemoryRangeStore::new(LwwRule, 4).unwrap();
    let mut sb = MemoryRangeStore::new(LwwRule, 4).unwrap();
    sa.put(b"k".to_vec(), lww_record(0, (1, false, 0)));
    let config = SessionConfig {
        max_passes: 2,
        ..SessionConfig::merkle(1)
    };
    let mut initiator = Initiator::new(config);
    let mut responder = Responder::new();
    let mut request = initiator.start(&sa).unwrap();
    let mut writes = 0u64;
    loop {
        let response = responder.handle(&mut sb, request).unwrap();
        // Every exchange, a new key lands on the responder: the ranges never
        // match at a root check.
        writes += 1;
        sb.put(
            format!("w{writes}").into_bytes(),
            lww_record(0, (1, false, 0)),
        );
        match initiator.on_response(&mut sa, response).unwrap() {
            Some(next) => request = next,
            None => break,
        }
    }
    let stats = initiator.stats();
    assert_eq!(
        (stats.passes, stats.ranges_unconverged),
        (2, 1),
        "{stats:?}"
    );
}

fn arbitrary_entry() -> impl Strategy<Value = WireEntry> {
    (
        prop::collection::vec(any::<u8>(), 0..6),
        prop::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(key, record)| WireEntry { key, record })
}

fn arbitrary_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        any::<u64>().prop_map(|salt| Request::Open { salt }),
        (
            prop::collection::vec(any::<u8>(), 0..4),
            prop::collection::vec(0u32..8, 0..3),
            prop::collection::vec(0u32..8, 0..3),
            prop::collection::vec(arbitrary_entry(), 0..3),
        )
            .prop_map(|(keep, pull_all, pull, push)| Request::Step {
                keep,
                pull_all,
                pull,
                push
            }),
        (
            0u8..70,
            any::<u64>(),
            prop::collection::vec(arbitrary_entry(), 0..3)
        )
            .prop_map(|(level, prefix, entries)| Request::FullChunk {
                level,
                prefix,
                entries
            }),
    ]
}

fn arbitrary_response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (any::<[u8; 8]>(), 0u64..5).prop_map(|(hash, count)| Response::Root { hash, count }),
        (
            prop::collection::vec(any::<[u8; 2]>(), 0..4),
            prop::collection::vec(any::<u8>(), 0..3),
            prop::collection::vec(
                prop::collection::vec(
                    (
                        any::<[u8; 4]>(),
                        any::<[u8; 2]>(),
                        prop::collection::vec(any::<u8>(), 0..9)
                    )
                        .prop_map(|(key_tail, entry_fp, version)| {
                            wire::WireDigest {
                                key_tail,
                                entry_fp,
                                version,
                            }
                        },),
                    0..3,
                ),
                0..3,
            ),
            prop::collection::vec(arbitrary_entry(), 0..3),
        )
            .prop_map(|(left, occupancy, digests, entries)| Response::Step {
                left,
                occupancy,
                digests,
                entries,
            }),
        prop::collection::vec(arbitrary_entry(), 0..3)
            .prop_map(|entries| Response::FullChunk { entries }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A buggy or hostile peer gets errors, never a panic, from a responder.
    #[test]
    fn responder_survives_arbitrary_requests(requests in prop::collection::vec(arbitrary_request(), 1..8)) {
        let sides: Vec<_> = (0..40).map(|i| (Some((1 + i % 3, i % 7 == 0, 0u8)), None, true)).collect();
        let (a, _) = lww_replicas(&sides);
        let mut store = MemoryRangeStore::from_records(LwwRule, 3, a).unwrap();
        let mut responder = Responder::new();
        for request in requests {
            let _ = responder.handle(&mut store, request);
        }
        assert_tree_matches_entries(&store);
    }

    /// Likewise for an initiator fed arbitrary responses.
    #[test]
    fn initiator_survives_arbitrary_responses(
        root in (any::<[u8; 8]>(), 0u64..50),
        responses in prop::collection::vec(arbitrary_response(), 1..8),
        full in any::<bool>(),
    ) {
        let sides: Vec<_> = (0..40).map(|i| (Some((1 + i % 3, false, 0u8)), None, true)).collect();
        let (a, _) = lww_replicas(&sides);
        let mut store = MemoryRangeStore::from_records(LwwRule, 3, a).unwrap();
        let config = if full { SessionConfig::full(1) } else { SessionConfig::merkle(1) };
        let mut initiator = Initiator::new(config);
        initiator.start(&store).unwrap();
        // A well-formed root first, so the rest reaches the later phases.
        let opening = Response::Root { hash: root.0, count: root.1 };
        for response in std::iter::once(opening).chain(responses) {
            match initiator.on_response(&mut store, response) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        assert_tree_matches_entries(&store);
    }
}

//! Dotted version vectors with siblings, as in Riak, for `conflict = "dvv"`.
//!
//! Every write gets a *dot* `(actor, counter)` minted by one replica of the
//! key from its local state, so the dots an actor mints for one key are
//! contiguous. The actor is not the bare node id but the replica's current
//! *incarnation* (`n1#<epoch>`, see [`crate::storage`]): a node that lost
//! data it had minted from (a wiped data dir, a crash under `fsync =
//! "interval"`, its own tombstone GC) starts a new incarnation, so it can
//! never re-issue a dot its peers already hold (Riak's kv679). On top of
//! that a counter is never below what the writing client's context has seen
//! of the actor. A record holds its live siblings (dot → value or tombstone)
//! and a *causal context*: every dot it has seen, stored as a version vector
//! plus a "cloud" of dots beyond the vector's contiguous prefix (needed
//! because a client's context may name a single dot, e.g. the one its last
//! write created).
//!
//! Merge is the dot-kernel join of delta-CRDTs: keep a sibling if both sides
//! have it, or if the other side has never seen its dot. With canonical
//! (compacted) contexts this is commutative, associative and idempotent.
//! A write with a client context removes exactly the siblings that context
//! covers and adds one new sibling, so concurrent writes become siblings.

use crate::types::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The largest dot counter accepted from a client or minted. Far beyond any
/// real count of writes by one incarnation to one key (2^53, also the
/// largest integer a JSON reader keeps exactly), and far enough below
/// `u64::MAX` that `counter + 1` can never overflow.
pub const MAX_COUNTER: u64 = 1 << 53;

/// Why a causal context from outside (a client) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextProblem {
    #[error("context counter {counter} for actor {actor} exceeds the limit {MAX_COUNTER}")]
    CounterTooLarge { actor: NodeId, counter: u64 },
    #[error("context is not in canonical form (a zero or already covered entry for actor {0})")]
    NotCanonical(NodeId),
}

/// Why a write could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("dot counter of actor {0} is exhausted")]
    CounterExhausted(NodeId),
}

/// One write event: minted by `node`, its `counter`-th for this key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    pub node: NodeId,
    pub counter: u64,
}

/// A set of dots: the contiguous prefix per node plus isolated extras.
/// Always kept compact (canonical), so equal sets compare equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausalContext {
    /// `node → c`: every dot `(node, 1..=c)` is in the set. No zero entries.
    vv: BTreeMap<NodeId, u64>,
    /// Dots beyond the prefix, each with `counter > vv[node] + 1`.
    cloud: BTreeSet<Dot>,
}

impl CausalContext {
    /// The empty context (a client that has read nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `dot` has been seen.
    pub fn contains(&self, dot: &Dot) -> bool {
        self.vv.get(&dot.node).is_some_and(|&c| dot.counter <= c) || self.cloud.contains(dot)
    }

    /// Adds one dot.
    pub fn insert(&mut self, dot: Dot) {
        self.cloud.insert(dot);
        self.compact();
    }

    /// Adds every dot of `other`.
    pub fn join(&mut self, other: &CausalContext) {
        for (node, &c) in &other.vv {
            let entry = self.vv.entry(node.clone()).or_insert(0);
            *entry = (*entry).max(c);
        }
        self.cloud.extend(other.cloud.iter().cloned());
        self.compact();
    }

    /// The highest counter seen from `node` (0 if none).
    pub fn max_counter(&self, node: &NodeId) -> u64 {
        let prefix = self.vv.get(node).copied().unwrap_or(0);
        let cloud_max = self
            .cloud
            .range(
                Dot {
                    node: node.clone(),
                    counter: 0,
                }..,
            )
            .take_while(|d| &d.node == node)
            .map(|d| d.counter)
            .max()
            .unwrap_or(0);
        prefix.max(cloud_max)
    }

    /// Checks a context that came from outside: every counter within
    /// [`MAX_COUNTER`] (so minting on top of it cannot overflow) and the
    /// canonical form [`CausalContext::compact`] keeps, so that storing it
    /// cannot make equal records compare unequal on two replicas.
    pub fn check(&self) -> Result<(), ContextProblem> {
        let too_large = |actor: &NodeId, counter: u64| ContextProblem::CounterTooLarge {
            actor: actor.clone(),
            counter,
        };
        for (actor, &c) in &self.vv {
            if c == 0 {
                return Err(ContextProblem::NotCanonical(actor.clone()));
            }
            if c > MAX_COUNTER {
                return Err(too_large(actor, c));
            }
        }
        for dot in &self.cloud {
            if dot.counter > MAX_COUNTER {
                return Err(too_large(&dot.node, dot.counter));
            }
            let prefix = self.vv.get(&dot.node).copied().unwrap_or(0);
            if dot.counter <= prefix.saturating_add(1) {
                return Err(ContextProblem::NotCanonical(dot.node.clone()));
            }
        }
        Ok(())
    }

    /// Every actor with at least one dot in the set.
    pub fn actors(&self) -> impl Iterator<Item = &NodeId> {
        self.vv.keys().chain(self.cloud.iter().map(|d| &d.node))
    }

    /// Whether nothing has been seen.
    pub fn is_empty(&self) -> bool {
        self.vv.is_empty() && self.cloud.is_empty()
    }

    /// Folds cloud dots that extend a node's prefix into the vector and drops
    /// those already covered. The cloud iterates in (node, counter) order, so
    /// one pass suffices.
    fn compact(&mut self) {
        let cloud = std::mem::take(&mut self.cloud);
        for dot in cloud {
            let prefix = self.vv.get(&dot.node).copied().unwrap_or(0);
            if dot.counter <= prefix {
                continue;
            }
            if dot.counter == prefix + 1 {
                self.vv.insert(dot.node, dot.counter);
            } else {
                self.cloud.insert(dot);
            }
        }
    }
}

/// One sibling's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sibling {
    /// `None` is a tombstone sibling (a delete).
    pub value: Option<String>,
    /// The minting replica's clock (ms) when written; tombstone GC uses it.
    pub written_ms: u64,
}

/// A DVV record: the live siblings and everything this record has seen.
/// Invariant: every sibling's dot is in `context`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvvRecord {
    pub siblings: BTreeMap<Dot, Sibling>,
    pub context: CausalContext,
}

impl DvvRecord {
    /// The join of two records (see module docs).
    pub fn merge(&self, other: &DvvRecord) -> DvvRecord {
        let mut siblings = BTreeMap::new();
        for (dot, sib) in &self.siblings {
            if other.siblings.contains_key(dot) || !other.context.contains(dot) {
                siblings.insert(dot.clone(), sib.clone());
            }
        }
        for (dot, sib) in &other.siblings {
            if !self.context.contains(dot) {
                siblings.insert(dot.clone(), sib.clone());
            }
        }
        let mut context = self.context.clone();
        context.join(&other.context);
        DvvRecord { siblings, context }
    }

    /// A new write minted by incarnation `actor` on top of its local record.
    /// Returns the new record and the context to hand the client: exactly
    /// what the client's context saw plus the new dot.
    ///
    /// The counter is one past the larger of what the local record and the
    /// client's context have seen of `actor`: a replica that lost the record
    /// its last dot went into must still not re-issue a dot a client has
    /// already seen (Riak's kv679; a lost record's dots that no client saw
    /// are covered by the incarnation change, see [`crate::storage`]).
    pub fn mint(
        local: Option<&DvvRecord>,
        client_context: &CausalContext,
        actor: &NodeId,
        value: Option<String>,
        written_ms: u64,
    ) -> Result<(DvvRecord, CausalContext), MintError> {
        let empty = DvvRecord::default();
        let local = local.unwrap_or(&empty);
        let counter = local
            .context
            .max_counter(actor)
            .max(client_context.max_counter(actor))
            .checked_add(1)
            .filter(|&c| c <= MAX_COUNTER)
            .ok_or_else(|| MintError::CounterExhausted(actor.clone()))?;
        let dot = Dot {
            node: actor.clone(),
            counter,
        };
        let mut siblings: BTreeMap<Dot, Sibling> = local
            .siblings
            .iter()
            .filter(|(d, _)| !client_context.contains(d))
            .map(|(d, s)| (d.clone(), s.clone()))
            .collect();
        siblings.insert(dot.clone(), Sibling { value, written_ms });
        let mut context = local.context.clone();
        context.join(client_context);
        context.insert(dot.clone());
        let mut returned = client_context.clone();
        returned.insert(dot);
        Ok((DvvRecord { siblings, context }, returned))
    }

    /// Live sibling values in dot order (deterministic across replicas).
    pub fn values(&self) -> Vec<String> {
        self.siblings
            .values()
            .filter_map(|s| s.value.clone())
            .collect()
    }

    /// Whether every sibling is a tombstone (and there is at least one).
    pub fn is_tombstone(&self) -> bool {
        !self.siblings.is_empty() && self.siblings.values().all(|s| s.value.is_none())
    }

    /// For a tombstone record: when the latest delete was written.
    pub fn tombstone_written_ms(&self) -> Option<u64> {
        if self.is_tombstone() {
            self.siblings.values().map(|s| s.written_ms).max()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(i: usize) -> NodeId {
        NodeId::new(&format!("n{i}"))
    }

    /// Replays a random history of writes at random replicas with random
    /// (possibly stale) contexts, then returns several replica states: the
    /// states a real cluster could reach, which is what merge must handle.
    fn replica_states() -> impl Strategy<Value = Vec<DvvRecord>> {
        proptest::collection::vec((0usize..3, 0usize..3, any::<bool>(), any::<bool>()), 0..12)
            .prop_map(|steps| {
                let mut replicas = vec![DvvRecord::default(); 3];
                for (i, (at, read_from, use_context, delete)) in steps.into_iter().enumerate() {
                    let context = if use_context {
                        replicas[read_from].context.clone()
                    } else {
                        CausalContext::new()
                    };
                    let value = (!delete).then(|| format!("v{i}"));
                    let (record, _) =
                        DvvRecord::mint(Some(&replicas[at]), &context, &n(at), value, i as u64)
                            .unwrap();
                    replicas[at] = record;
                    // occasionally gossip
                    if i % 3 == 0 {
                        let merged = replicas[at].merge(&replicas[(at + 1) % 3]);
                        replicas[(at + 1) % 3] = merged;
                    }
                }
                replicas
            })
    }

    #[test]
    fn concurrent_writes_become_siblings() {
        let empty = CausalContext::new();
        let (a, _) = DvvRecord::mint(None, &empty, &n(1), Some("a".into()), 0).unwrap();
        let (b, _) = DvvRecord::mint(None, &empty, &n(2), Some("b".into()), 0).unwrap();
        let merged = a.merge(&b);
        assert_eq!(merged.values(), vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn a_write_with_context_supersedes_exactly_what_it_saw() {
        let empty = CausalContext::new();
        let (a, _) = DvvRecord::mint(None, &empty, &n(1), Some("a".into()), 0).unwrap();
        let seen = a.context.clone();
        // A concurrent write lands on the same replica before ours.
        let (ab, _) = DvvRecord::mint(Some(&a), &empty, &n(1), Some("b".into()), 0).unwrap();
        let (abc, returned) =
            DvvRecord::mint(Some(&ab), &seen, &n(1), Some("c".into()), 0).unwrap();
        assert_eq!(abc.values(), vec!["b".to_string(), "c".to_string()]);
        // The returned context covers "a" and "c" but not the unseen "b".
        let (next, _) = DvvRecord::mint(Some(&abc), &returned, &n(1), Some("d".into()), 0).unwrap();
        assert_eq!(next.values(), vec!["b".to_string(), "d".to_string()]);
    }

    #[test]
    fn a_delete_with_context_leaves_a_tombstone() {
        let empty = CausalContext::new();
        let (a, _) = DvvRecord::mint(None, &empty, &n(1), Some("a".into()), 0).unwrap();
        let (deleted, _) = DvvRecord::mint(Some(&a), &a.context, &n(2), None, 42).unwrap();
        assert!(deleted.is_tombstone());
        assert_eq!(deleted.tombstone_written_ms(), Some(42));
        // A stale replica still holding "a" cannot bring it back.
        assert!(a.merge(&deleted).is_tombstone());
    }

    #[test]
    fn context_compacts_to_a_canonical_form() {
        let mut x = CausalContext::new();
        x.insert(Dot {
            node: n(1),
            counter: 3,
        });
        x.insert(Dot {
            node: n(1),
            counter: 1,
        });
        x.insert(Dot {
            node: n(1),
            counter: 2,
        });
        let mut y = CausalContext::new();
        y.join(&x);
        assert_eq!(x, y);
        assert_eq!(x.max_counter(&n(1)), 3);
        assert!(x.cloud.is_empty());
    }

    #[test]
    fn a_counter_is_never_below_what_the_client_context_saw() {
        // The replica lost the record its last dot went into, but the client
        // read it: the new dot must be beyond it, or peers drop the write.
        let mut seen = CausalContext::new();
        seen.insert(Dot {
            node: n(1),
            counter: 7,
        });
        let (minted, _) = DvvRecord::mint(None, &seen, &n(1), Some("v".into()), 0).unwrap();
        assert_eq!(
            minted.siblings.keys().collect::<Vec<_>>(),
            vec![&Dot {
                node: n(1),
                counter: 8
            }]
        );
    }

    #[test]
    fn an_exhausted_counter_is_an_error_not_an_overflow() {
        let mut seen = CausalContext::new();
        seen.insert(Dot {
            node: n(1),
            counter: MAX_COUNTER,
        });
        assert_eq!(
            DvvRecord::mint(None, &seen, &n(1), Some("v".into()), 0),
            Err(MintError::CounterExhausted(n(1)))
        );
        seen.insert(Dot {
            node: n(2),
            counter: u64::MAX,
        });
        assert_eq!(
            DvvRecord::mint(None, &seen, &n(2), Some("v".into()), 0),
            Err(MintError::CounterExhausted(n(2)))
        );
    }

    #[test]
    fn check_refuses_huge_counters_and_non_canonical_contexts() {
        let mut ok = CausalContext::new();
        ok.insert(Dot {
            node: n(1),
            counter: 1,
        });
        ok.insert(Dot {
            node: n(1),
            counter: 5,
        });
        assert_eq!(ok.check(), Ok(()));
        let mut huge = CausalContext::new();
        huge.insert(Dot {
            node: n(1),
            counter: MAX_COUNTER + 1,
        });
        assert!(matches!(
            huge.check(),
            Err(ContextProblem::CounterTooLarge { .. })
        ));
        let zero = CausalContext {
            vv: [(n(1), 0)].into(),
            cloud: BTreeSet::new(),
        };
        assert_eq!(zero.check(), Err(ContextProblem::NotCanonical(n(1))));
        let covered = CausalContext {
            vv: [(n(1), 3)].into(),
            cloud: [Dot {
                node: n(1),
                counter: 2,
            }]
            .into(),
        };
        assert_eq!(covered.check(), Err(ContextProblem::NotCanonical(n(1))));
    }

    proptest! {
        #[test]
        fn merge_is_commutative(states in replica_states()) {
            prop_assert_eq!(states[0].merge(&states[1]), states[1].merge(&states[0]));
        }

        #[test]
        fn merge_is_associative(states in replica_states()) {
            let (a, b, c) = (&states[0], &states[1], &states[2]);
            prop_assert_eq!(a.merge(b).merge(c), a.merge(&b.merge(c)));
        }

        #[test]
        fn merge_is_idempotent(states in replica_states()) {
            prop_assert_eq!(states[0].merge(&states[0]), states[0].clone());
            let ab = states[0].merge(&states[1]);
            prop_assert_eq!(ab.merge(&states[1]), ab);
        }

        #[test]
        fn every_sibling_is_in_its_context(states in replica_states()) {
            let merged = states[0].merge(&states[1]).merge(&states[2]);
            for dot in merged.siblings.keys() {
                prop_assert!(merged.context.contains(dot));
            }
        }
    }
}

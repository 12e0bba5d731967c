//! Dotted version vectors with siblings, as in Riak, for `conflict = "dvv"`.
//!
//! Every write gets a *dot* `(node, counter)` minted by one replica of the
//! key from its local state, so the dots a node mints for one key are
//! contiguous. A record holds its live siblings (dot → value or tombstone)
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

    /// A new write minted by replica `node` on top of its local record.
    /// Returns the new record and the context to hand the client: exactly
    /// what the client's context saw plus the new dot.
    pub fn mint(
        local: Option<&DvvRecord>,
        client_context: &CausalContext,
        node: &NodeId,
        value: Option<String>,
        written_ms: u64,
    ) -> (DvvRecord, CausalContext) {
        let empty = DvvRecord::default();
        let local = local.unwrap_or(&empty);
        let dot = Dot {
            node: node.clone(),
            counter: local.context.max_counter(node) + 1,
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
        (DvvRecord { siblings, context }, returned)
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
                        DvvRecord::mint(Some(&replicas[at]), &context, &n(at), value, i as u64);
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
        let (a, _) = DvvRecord::mint(None, &empty, &n(1), Some("a".into()), 0);
        let (b, _) = DvvRecord::mint(None, &empty, &n(2), Some("b".into()), 0);
        let merged = a.merge(&b);
        assert_eq!(merged.values(), vec!["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn a_write_with_context_supersedes_exactly_what_it_saw() {
        let empty = CausalContext::new();
        let (a, _) = DvvRecord::mint(None, &empty, &n(1), Some("a".into()), 0);
        let seen = a.context.clone();
        // A concurrent write lands on the same replica before ours.
        let (ab, _) = DvvRecord::mint(Some(&a), &empty, &n(1), Some("b".into()), 0);
        let (abc, returned) = DvvRecord::mint(Some(&ab), &seen, &n(1), Some("c".into()), 0);
        assert_eq!(abc.values(), vec!["b".to_string(), "c".to_string()]);
        // The returned context covers "a" and "c" but not the unseen "b".
        let (next, _) = DvvRecord::mint(Some(&abc), &returned, &n(1), Some("d".into()), 0);
        assert_eq!(next.values(), vec!["b".to_string(), "d".to_string()]);
    }

    #[test]
    fn a_delete_with_context_leaves_a_tombstone() {
        let empty = CausalContext::new();
        let (a, _) = DvvRecord::mint(None, &empty, &n(1), Some("a".into()), 0);
        let (deleted, _) = DvvRecord::mint(Some(&a), &a.context, &n(2), None, 42);
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

//! Consistent-hash placement: which nodes hold a key.
//!
//! Each member owns `vnodes` tokens at `hash("id#i")`; a key's preference list
//! is the first `rf` distinct members met walking clockwise from `hash(key)`.
//! The hash is FNV-1a 64 followed by a splitmix64 finaliser: stable across
//! builds, platforms and processes (unlike `std`'s randomised hasher), and the
//! finaliser spreads FNV's weak high bits so similar ids ("n1#0", "n1#1")
//! land far apart.

use crate::types::{Key, NodeId};

/// A position on the ring, `0..=u64::MAX`.
pub type Token = u64;

/// Stable 64-bit hash used for both tokens and keys.
pub fn ring_hash(bytes: &[u8]) -> Token {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    crate::mix::finalize(h)
}

/// A contiguous arc of the ring `(start, end]` (wrapping when `start >= end`)
/// and the members that replicate every key in it. Anti-entropy compares
/// replicas range by range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRange {
    /// Exclusive lower bound (the previous token).
    pub start: Token,
    /// Inclusive upper bound (the token that owns this arc).
    pub end: Token,
    /// The preference list of every key in this range, in ring order.
    pub replicas: Vec<NodeId>,
}

impl TokenRange {
    /// Whether `token` lies in `(start, end]`, wrapping around zero.
    pub fn contains(&self, token: Token) -> bool {
        if self.start < self.end {
            token > self.start && token <= self.end
        } else {
            token > self.start || token <= self.end
        }
    }
}

/// The hash ring of a static membership.
#[derive(Clone, Debug)]
pub struct Ring {
    /// Sorted by token; ties (astronomically unlikely) broken by member id.
    tokens: Vec<(Token, NodeId)>,
    members: Vec<NodeId>,
    rf: usize,
}

impl Ring {
    /// Builds the ring. `rf` is clamped to the member count.
    pub fn new(members: &[NodeId], vnodes: usize, rf: usize) -> Ring {
        let mut members = members.to_vec();
        members.sort();
        members.dedup();
        let mut tokens: Vec<(Token, NodeId)> = members
            .iter()
            .flat_map(|m| {
                (0..vnodes).map(move |i| (ring_hash(format!("{m}#{i}").as_bytes()), m.clone()))
            })
            .collect();
        tokens.sort();
        let rf = rf.min(members.len());
        Ring {
            tokens,
            members,
            rf,
        }
    }

    /// All members, sorted.
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// The replication factor in force.
    pub fn rf(&self) -> usize {
        self.rf
    }

    /// The replicas of `key`, in preference order.
    pub fn preference_list(&self, key: &Key) -> Vec<NodeId> {
        self.replicas_for_token(ring_hash(key.as_str().as_bytes()))
    }

    /// The first `rf` distinct members clockwise from `token`.
    pub fn replicas_for_token(&self, token: Token) -> Vec<NodeId> {
        let mut replicas: Vec<NodeId> = Vec::with_capacity(self.rf);
        if self.tokens.is_empty() {
            return replicas;
        }
        let start = self.tokens.partition_point(|(t, _)| *t < token);
        for i in 0..self.tokens.len() {
            let (_, member) = &self.tokens[(start + i) % self.tokens.len()];
            if !replicas.contains(member) {
                replicas.push(member.clone());
                if replicas.len() == self.rf {
                    break;
                }
            }
        }
        replicas
    }

    /// Every arc between consecutive tokens with its replica set. The arcs
    /// partition the ring: each token belongs to exactly one.
    pub fn ranges(&self) -> Vec<TokenRange> {
        let n = self.tokens.len();
        (0..n)
            .map(|i| {
                let end = self.tokens[i].0;
                let start = self.tokens[(i + n - 1) % n].0;
                TokenRange {
                    start,
                    end,
                    replicas: self.replicas_for_token(end),
                }
            })
            .collect()
    }

    /// The ranges `node` replicates.
    pub fn ranges_of(&self, node: &NodeId) -> Vec<TokenRange> {
        self.ranges()
            .into_iter()
            .filter(|r| r.replicas.contains(node))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn ids(n: usize) -> Vec<NodeId> {
        (1..=n).map(|i| NodeId::new(&format!("n{i}"))).collect()
    }

    #[test]
    fn hash_is_stable_across_builds() {
        // Pinned values: changing the hash would move every key on upgrade.
        assert_ne!(ring_hash(b"n1#0"), ring_hash(b"n1#1"));
        assert_eq!(ring_hash(b"key"), 5_223_813_793_542_995_580);
    }

    #[test]
    fn keys_spread_evenly_over_members() {
        let ring = Ring::new(&ids(5), 64, 1);
        let mut counts: HashMap<NodeId, usize> = HashMap::new();
        for i in 0..50_000 {
            let key = Key::parse(&format!("key-{i}")).unwrap();
            *counts
                .entry(ring.preference_list(&key)[0].clone())
                .or_default() += 1;
        }
        for (node, count) in counts {
            assert!(
                (6_000..14_000).contains(&count),
                "{node} owns {count} of 50000"
            );
        }
    }

    proptest! {
        #[test]
        fn preference_list_is_rf_distinct_members(members in 1usize..8, rf in 1usize..5, vnodes in 1usize..40, key in "[a-z0-9]{1,20}") {
            let ring = Ring::new(&ids(members), vnodes, rf);
            let list = ring.preference_list(&Key::parse(&key).unwrap());
            prop_assert_eq!(list.len(), rf.min(members));
            let mut dedup = list.clone();
            dedup.sort();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), list.len());
        }

        #[test]
        fn placement_does_not_depend_on_member_order(key in "[a-z0-9]{1,20}") {
            let mut reversed = ids(4);
            reversed.reverse();
            let key = Key::parse(&key).unwrap();
            prop_assert_eq!(
                Ring::new(&ids(4), 16, 3).preference_list(&key),
                Ring::new(&reversed, 16, 3).preference_list(&key)
            );
        }

        #[test]
        fn exactly_one_range_holds_each_token(token in any::<u64>()) {
            let ring = Ring::new(&ids(3), 8, 2);
            let holders: Vec<_> = ring.ranges().into_iter().filter(|r| r.contains(token)).collect();
            prop_assert_eq!(holders.len(), 1);
            prop_assert_eq!(&holders[0].replicas, &ring.replicas_for_token(token));
        }
    }
}

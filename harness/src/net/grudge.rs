//! Partitions as data: a [`Grudge`] says, for each node, which nodes' traffic
//! it rejects, and [`PartitionShape`] computes one from a node list.
//!
//! As in Jepsen, shapes are pure functions: no sockets, no randomness of their
//! own (the nemesis schedule shuffles the node list with the run's seed before
//! calling them). A backend ([`crate::net::Partitioner`]) applies a grudge however it
//! can: the local proxy mesh stops forwarding, iptables would drop packets.

use crate::node_id::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Node → the nodes whose traffic it rejects. A node absent from the map
/// rejects nobody. Directed: `b` rejecting `a` cuts the link a→b (a's
/// connections to b hang) while b→a stays open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grudge(pub BTreeMap<NodeId, BTreeSet<NodeId>>);

impl Grudge {
    /// Whether traffic from `from` to `to` is cut.
    pub fn cuts(&self, from: &NodeId, to: &NodeId) -> bool {
        self.0
            .get(to)
            .is_some_and(|rejected| rejected.contains(from))
    }

    /// Whether no link is cut.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeSet::is_empty)
    }

    /// Every link either grudge cuts: the partitions in effect at once.
    pub fn union(&self, other: &Grudge) -> Grudge {
        let mut g = self.clone();
        for (to, froms) in &other.0 {
            for from in froms {
                g.reject(to, from);
            }
        }
        g
    }

    /// The one link between `a` and `b` cut both ways; the `link` fault.
    pub fn link(a: &NodeId, b: &NodeId) -> Grudge {
        let mut g = Grudge::default();
        g.reject(a, b);
        g.reject(b, a);
        g
    }

    /// `to` rejects traffic from `from`.
    fn reject(&mut self, to: &NodeId, from: &NodeId) {
        if to != from {
            self.0.entry(to.clone()).or_default().insert(from.clone());
        }
    }

    /// Every node rejects every node outside its own component; nodes in no
    /// component are untouched. Jepsen's `complete-grudge`.
    pub fn complete(components: &[&[NodeId]]) -> Grudge {
        let mut g = Grudge::default();
        for (i, a) in components.iter().enumerate() {
            for (j, b) in components.iter().enumerate() {
                if i != j {
                    for to in a.iter() {
                        for from in b.iter() {
                            g.reject(to, from);
                        }
                    }
                }
            }
        }
        g
    }
}

/// The partition shapes the partition nemesis chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    /// The first node alone against the rest.
    IsolateOne,
    /// First half against second half (the halves are random because the
    /// caller shuffled the nodes).
    Halves,
    /// Every node sees a majority, and no two nodes see the same majority.
    MajoritiesRing,
    /// Two halves that cannot talk, joined by one node (the middle one) that
    /// sees both.
    Bridge,
    /// First half's traffic to the second half is cut; the other way is open.
    OneWay,
}

impl PartitionShape {
    pub const ALL: [PartitionShape; 5] = [
        PartitionShape::IsolateOne,
        PartitionShape::Halves,
        PartitionShape::MajoritiesRing,
        PartitionShape::Bridge,
        PartitionShape::OneWay,
    ];

    /// The grudge this shape makes of `nodes`, in the order given.
    pub fn grudge(self, nodes: &[NodeId]) -> Grudge {
        match self {
            PartitionShape::IsolateOne => isolate_one(nodes),
            PartitionShape::Halves => halves(nodes),
            PartitionShape::MajoritiesRing => majorities_ring(nodes),
            PartitionShape::Bridge => bridge(nodes),
            PartitionShape::OneWay => one_way(nodes),
        }
    }
}

impl fmt::Display for PartitionShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            PartitionShape::IsolateOne => "isolate-one",
            PartitionShape::Halves => "halves",
            PartitionShape::MajoritiesRing => "majorities-ring",
            PartitionShape::Bridge => "bridge",
            PartitionShape::OneWay => "one-way",
        };
        f.write_str(name)
    }
}

/// `nodes[0]` cut off from everyone else, both ways.
pub fn isolate_one(nodes: &[NodeId]) -> Grudge {
    match nodes.split_first() {
        Some((first, rest)) => Grudge::complete(&[std::slice::from_ref(first), rest]),
        None => Grudge::default(),
    }
}

/// The first `len/2` nodes against the rest, both ways.
pub fn halves(nodes: &[NodeId]) -> Grudge {
    let (a, b) = nodes.split_at(nodes.len() / 2);
    Grudge::complete(&[a, b])
}

/// Jepsen's `majorities-ring`: node `i` sees the window of `m` (a majority)
/// consecutive nodes of the ring that has it at its centre, and rejects
/// everyone else. Windows differ per node, so no two nodes share a majority.
pub fn majorities_ring(nodes: &[NodeId]) -> Grudge {
    let n = nodes.len();
    let mut g = Grudge::default();
    if n < 3 {
        return g;
    }
    let m = n / 2 + 1;
    for (i, to) in nodes.iter().enumerate() {
        let start = i + n - m / 2;
        let visible: BTreeSet<usize> = (start..start + m).map(|j| j % n).collect();
        for (j, from) in nodes.iter().enumerate() {
            if !visible.contains(&j) {
                g.reject(to, from);
            }
        }
    }
    g
}

/// The middle node bridges two halves that cannot talk to each other.
pub fn bridge(nodes: &[NodeId]) -> Grudge {
    let mid = nodes.len() / 2;
    if nodes.len() < 3 {
        return Grudge::default();
    }
    Grudge::complete(&[&nodes[..mid], &nodes[mid + 1..]])
}

/// The first `len/2` nodes cannot reach the rest; the rest still reach them.
pub fn one_way(nodes: &[NodeId]) -> Grudge {
    let (senders, receivers) = nodes.split_at(nodes.len() / 2);
    let mut g = Grudge::default();
    for to in receivers {
        for from in senders {
            g.reject(to, from);
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<NodeId> {
        NodeId::cluster(n)
    }

    #[test]
    fn a_link_cuts_one_pair_both_ways_and_unions_with_a_partition() {
        let n = ids(5);
        let link = Grudge::link(&n[3], &n[4]);
        assert!(link.cuts(&n[3], &n[4]) && link.cuts(&n[4], &n[3]));
        assert!(!link.cuts(&n[0], &n[4]));
        let ring = isolate_one(&n);
        let both = ring.union(&link);
        assert!(both.cuts(&n[0], &n[1]) && both.cuts(&n[1], &n[0]));
        assert!(both.cuts(&n[3], &n[4]) && both.cuts(&n[4], &n[3]));
        assert!(!both.cuts(&n[1], &n[2]));
        assert_eq!(link.union(&Grudge::default()), link);
    }

    /// The nodes `node` can still hear from (itself included).
    fn hears(g: &Grudge, all: &[NodeId], node: &NodeId) -> BTreeSet<NodeId> {
        all.iter().filter(|f| !g.cuts(f, node)).cloned().collect()
    }

    #[test]
    fn isolate_one_cuts_exactly_the_first_node_both_ways() {
        let n = ids(5);
        let g = isolate_one(&n);
        for other in &n[1..] {
            assert!(g.cuts(&n[0], other) && g.cuts(other, &n[0]));
            for third in &n[1..] {
                assert!(!g.cuts(other, third));
            }
        }
    }

    #[test]
    fn halves_split_five_nodes_two_against_three() {
        let n = ids(5);
        let g = halves(&n);
        assert_eq!(hears(&g, &n, &n[0]).len(), 2);
        assert_eq!(hears(&g, &n, &n[4]).len(), 3);
        assert!(g.cuts(&n[0], &n[4]) && g.cuts(&n[4], &n[0]));
    }

    #[test]
    fn majorities_ring_gives_every_node_a_distinct_majority() {
        for size in [3, 4, 5, 7] {
            let n = ids(size);
            let g = majorities_ring(&n);
            let views: Vec<_> = n.iter().map(|x| hears(&g, &n, x)).collect();
            for (i, v) in views.iter().enumerate() {
                assert!(v.len() > size / 2, "{size} nodes: {v:?}");
                assert!(v.contains(&n[i]));
                for w in &views[i + 1..] {
                    assert_ne!(v, w, "two nodes share a majority with {size} nodes");
                }
            }
        }
    }

    #[test]
    fn bridge_node_hears_everyone_while_the_sides_are_cut() {
        let n = ids(5);
        let g = bridge(&n);
        assert_eq!(hears(&g, &n, &n[2]).len(), 5);
        assert!(g.cuts(&n[0], &n[4]) && g.cuts(&n[4], &n[0]));
        assert!(!g.cuts(&n[0], &n[1]) && !g.cuts(&n[3], &n[4]));
    }

    #[test]
    fn one_way_cuts_only_one_direction() {
        let n = ids(4);
        let g = one_way(&n);
        assert!(g.cuts(&n[0], &n[3]));
        assert!(!g.cuts(&n[3], &n[0]));
        assert!(!g.cuts(&n[0], &n[1]));
    }

    #[test]
    fn shapes_of_tiny_clusters_are_empty_or_sane() {
        for shape in PartitionShape::ALL {
            assert!(shape.grudge(&[]).is_empty());
            assert!(shape.grudge(&ids(1)).is_empty());
        }
    }
}

//! [`MerkleTree`]: one token range's hash tree, kept current on every write.
//!
//! A complete binary tree of `2^leaf_bits` leaves in one flat array (heap
//! order: node `i` has children `2i`, `2i+1`, the root is `1`). A key lands in
//! the leaf named by the top `leaf_bits` bits of its [`KeyHash`]. Every node
//! holds the XOR of the [`EntryHash`]es beneath it and their count, so
//! replacing one entry is one XOR and one add per level: O(`leaf_bits`), no
//! rescan, and the result does not depend on the order writes arrived in
//! (incremental maintenance equals a rebuild bit for bit).
//!
//! The tree stops at the leaves to bound memory (12 bytes per node: 1.5 MiB at
//! the default 2^16 leaves). Sessions look deeper without storing more: below
//! a leaf they split on further key-hash bits computed from that leaf's
//! entries (see `session`).

use super::hash::{EntryHash, KeyHash};

/// Leaf bits when the config does not say: 65,536 leaves, 1.5 MiB per range,
/// about 15 entries per leaf at 1,000,000 keys. Sessions split leaves further
/// on demand, so this trades memory against per-leaf scan cost only.
pub const DEFAULT_LEAF_BITS: u8 = 16;
/// Upper bound on `leaf_bits`: 2^24 leaves already take 384 MiB per range.
pub const MAX_LEAF_BITS: u8 = 24;

/// What a node says about its subtree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeSummary {
    /// XOR of the entry hashes beneath.
    pub hash: u64,
    /// Number of entries beneath.
    pub count: u64,
}

impl NodeSummary {
    /// The summary of the union of two disjoint subtrees.
    pub fn combine(self, other: NodeSummary) -> NodeSummary {
        NodeSummary {
            hash: self.hash ^ other.hash,
            count: self.count + other.count,
        }
    }

    /// Adds one entry.
    pub fn add(&mut self, entry: EntryHash) {
        self.hash ^= entry.0;
        self.count += 1;
    }
}

/// `leaf_bits` outside `0..=MAX_LEAF_BITS`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "anti_entropy.leaf_bits = {0} is out of range; use 0..={MAX_LEAF_BITS} (default {DEFAULT_LEAF_BITS})"
)]
pub struct LeafBitsError(pub u8);

/// The Merkle tree of one token range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    leaf_bits: u8,
    /// XOR of entry hashes per node, heap order; index 0 is unused.
    hashes: Vec<u64>,
    /// Entries per node, same layout. `u32`: a range of 4 billion keys is far
    /// past what one node stores, and it keeps the tree at 12 bytes a node.
    counts: Vec<u32>,
}

impl MerkleTree {
    /// An empty tree with `2^leaf_bits` leaves.
    pub fn new(leaf_bits: u8) -> Result<MerkleTree, LeafBitsError> {
        if leaf_bits > MAX_LEAF_BITS {
            return Err(LeafBitsError(leaf_bits));
        }
        let nodes = 2usize << leaf_bits;
        Ok(MerkleTree {
            leaf_bits,
            hashes: vec![0; nodes],
            counts: vec![0; nodes],
        })
    }

    /// Builds the tree of a range from its entries in one pass (start-up).
    pub fn from_entries(
        leaf_bits: u8,
        entries: impl IntoIterator<Item = (KeyHash, EntryHash)>,
    ) -> Result<MerkleTree, LeafBitsError> {
        let mut tree = MerkleTree::new(leaf_bits)?;
        let first_leaf = 1usize << leaf_bits;
        for (key, entry) in entries {
            let i = first_leaf + tree.leaf_of(key) as usize;
            tree.hashes[i] ^= entry.0;
            tree.counts[i] = tree.counts[i].wrapping_add(1);
        }
        for i in (1..first_leaf).rev() {
            tree.hashes[i] = tree.hashes[2 * i] ^ tree.hashes[2 * i + 1];
            tree.counts[i] = tree.counts[2 * i].wrapping_add(tree.counts[2 * i + 1]);
        }
        Ok(tree)
    }

    /// How many top key-hash bits pick a leaf.
    pub fn leaf_bits(&self) -> u8 {
        self.leaf_bits
    }

    /// The leaf a key hash falls in.
    pub fn leaf_of(&self, key: KeyHash) -> u64 {
        prefix_of(key, self.leaf_bits)
    }

    /// Records that the entry of `key` changed from `old` to `new` (`None` =
    /// absent). Call it for every write, delete, repair merge and purge, with
    /// the entry hash the store held before and holds after.
    pub fn update(&mut self, key: KeyHash, old: Option<EntryHash>, new: Option<EntryHash>) {
        let delta = old.map_or(0, |h| h.0) ^ new.map_or(0, |h| h.0);
        let count_delta = i32::from(new.is_some()) - i32::from(old.is_some());
        if delta == 0 && count_delta == 0 {
            return;
        }
        let mut i = (1usize << self.leaf_bits) + self.leaf_of(key) as usize;
        while i >= 1 {
            self.hashes[i] ^= delta;
            // Wrapping: a caller that reports a wrong `old` corrupts the count
            // (repair then finds a difference), it must not panic the node.
            self.counts[i] = self.counts[i].wrapping_add_signed(count_delta);
            i >>= 1;
        }
    }

    /// The root summary: equal roots mean equal ranges (up to 2^-64).
    pub fn root(&self) -> NodeSummary {
        self.summary(0, 0)
    }

    /// The summary of the node at `level` (0 = root, `leaf_bits` = leaves)
    /// whose key hashes start with the `level`-bit `prefix`.
    ///
    /// Levels past `leaf_bits` are not stored; callers compute those from
    /// the leaf's entries. Out-of-range arguments read as an empty node.
    pub fn summary(&self, level: u8, prefix: u64) -> NodeSummary {
        if level > self.leaf_bits || prefix >= (1u64 << level) {
            return NodeSummary::default();
        }
        let i = (1usize << level) + prefix as usize;
        NodeSummary {
            hash: self.hashes[i],
            count: u64::from(self.counts[i]),
        }
    }

    /// Bytes of memory the node arrays take.
    pub fn memory_bytes(&self) -> usize {
        self.hashes.len() * 8 + self.counts.len() * 4
    }
}

/// The top `bits` bits of a key hash (`0` for `bits == 0`).
pub fn prefix_of(key: KeyHash, bits: u8) -> u64 {
    if bits == 0 {
        0
    } else {
        key.0 >> (64 - u32::from(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::hash::{entry_hash, key_hash};
    use crate::mix::SplitMix64;
    use proptest::prelude::*;

    fn entry(i: u64, version: u64) -> (KeyHash, EntryHash) {
        let key = format!("k{i}");
        (
            key_hash(key.as_bytes()),
            entry_hash(key.as_bytes(), &version.to_le_bytes(), &[b"v"], false),
        )
    }

    #[test]
    fn rejects_too_many_leaf_bits() {
        assert_eq!(
            MerkleTree::new(MAX_LEAF_BITS + 1),
            Err(LeafBitsError(MAX_LEAF_BITS + 1))
        );
        assert!(MerkleTree::new(0).is_ok());
    }

    #[test]
    fn empty_tree_and_emptied_tree_are_equal() {
        let mut tree = MerkleTree::new(8).unwrap();
        let (k, e) = entry(1, 1);
        tree.update(k, None, Some(e));
        assert_eq!(tree.root().count, 1);
        assert_ne!(tree, MerkleTree::new(8).unwrap());
        tree.update(k, Some(e), None);
        assert_eq!(tree, MerkleTree::new(8).unwrap());
    }

    #[test]
    fn a_changed_version_changes_the_root_and_its_path_only() {
        let mut tree = MerkleTree::from_entries(10, (0..500).map(|i| entry(i, 1))).unwrap();
        let before = tree.clone();
        let (k, old) = entry(42, 1);
        let (_, new) = entry(42, 2);
        tree.update(k, Some(old), Some(new));
        assert_ne!(tree.root(), before.root());
        assert_eq!(tree.root().count, before.root().count);
        let leaf = tree.leaf_of(k);
        for level in 0..=10u8 {
            let on_path = leaf >> (10 - level);
            for prefix in 0..(1u64 << level) {
                let changed = tree.summary(level, prefix) != before.summary(level, prefix);
                assert_eq!(changed, prefix == on_path, "level {level} prefix {prefix}");
            }
        }
    }

    proptest! {
        /// Any sequence of upserts and deletes applied incrementally yields
        /// exactly the tree rebuilt from the final entries.
        #[test]
        fn incremental_updates_equal_rebuild(
            leaf_bits in 0u8..12,
            ops in prop::collection::vec((0u64..200, 0u64..4, any::<bool>()), 0..400),
        ) {
            let mut tree = MerkleTree::new(leaf_bits).unwrap();
            let mut state = std::collections::BTreeMap::new();
            for (key, version, delete) in ops {
                let (k, new) = entry(key, version);
                let old = state.get(&key).copied();
                if delete {
                    tree.update(k, old, None);
                    state.remove(&key);
                } else {
                    tree.update(k, old, Some(new));
                    state.insert(key, new);
                }
            }
            let rebuilt = MerkleTree::from_entries(
                leaf_bits,
                state.iter().map(|(key, e)| (entry(*key, 0).0, *e)),
            ).unwrap();
            prop_assert_eq!(tree, rebuilt);
        }
    }

    #[test]
    fn leaves_spread_keys_evenly() {
        let mut rng = SplitMix64(3);
        let tree = MerkleTree::from_entries(
            4,
            (0..16_000).map(|_| (KeyHash(rng.next_u64()), EntryHash(rng.next_u64()))),
        )
        .unwrap();
        for leaf in 0..16 {
            let n = tree.summary(4, leaf).count;
            assert!((800..1200).contains(&n), "leaf {leaf} holds {n}");
        }
    }
}

//! [`RangeStore`]: what a session needs from the node's storage for one range.
//!
//! The session never touches disks or sockets; the node implements this trait
//! over its storage (and keeps the range's [`MerkleTree`] current inside
//! `merge` and its own write path). Conflict resolution stays with the node:
//! `merge` applies its LWW or DVV rule, `version_order` compares its encoded
//! versions.
//!
//! Key-hash spans ([`HashSpan`]) are the unit of lookup: a trie node is the set
//! of keys whose [`KeyHash`] starts with some bits. A store that indexes its
//! entries by key hash (e.g. a `(key_hash, key)` table) answers any span with
//! one range scan.

use serde::{Deserialize, Serialize};

use super::hash::{EntryHash, KeyHash};
use super::tree::{MerkleTree, NodeSummary, prefix_of};

/// One entry as it crosses the wire: the key and the node's encoded record
/// (version, values, tombstone flag; opaque here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    /// The key's bytes.
    pub key: Vec<u8>,
    /// The node's encoding of everything it stores for the key.
    pub record: Vec<u8>,
}

/// What a store says about one entry without shipping it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryDigest {
    /// Where the key sits in the trie.
    pub key_hash: KeyHash,
    /// The hash the tree holds for this entry.
    pub entry_hash: EntryHash,
    /// The encoded version, compared with [`RangeStore::version_order`] so a
    /// session ships only the newer side of a key both replicas hold.
    pub version: Vec<u8>,
}

/// How this replica's version of a key relates to the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionOrder {
    /// Mine supersedes theirs: only mine needs to travel.
    Newer,
    /// Theirs supersedes mine: only theirs needs to travel.
    Older,
    /// Same version but different entries (should not happen with versions
    /// that name writes uniquely): both travel and `merge` decides.
    Same,
    /// Neither supersedes (DVV siblings): both travel.
    Concurrent,
}

/// A trie node: keys whose hash begins with the `level`-bit `prefix`.
/// `level` 0 is the whole range, 64 a single key hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashSpan {
    /// Number of leading key-hash bits fixed by this node (0..=64).
    pub level: u8,
    /// The fixed bits, right-aligned.
    pub prefix: u64,
}

impl HashSpan {
    /// Every key of the range.
    pub const ALL: HashSpan = HashSpan {
        level: 0,
        prefix: 0,
    };

    /// The span holding exactly one key hash.
    pub fn exact(key: KeyHash) -> HashSpan {
        HashSpan {
            level: 64,
            prefix: key.0,
        }
    }

    /// Smallest key hash in the span.
    pub fn first(self) -> u64 {
        if self.level == 0 {
            0
        } else {
            self.prefix << (64 - u32::from(self.level))
        }
    }

    /// Largest key hash in the span.
    pub fn last(self) -> u64 {
        match self.level {
            0 => u64::MAX,
            64.. => self.prefix,
            level => self.first() | (u64::MAX >> u32::from(level)),
        }
    }

    /// Whether `key` lies in the span.
    pub fn contains(self, key: KeyHash) -> bool {
        prefix_of(key, self.level) == self.prefix
    }

    /// The half of the span whose next bit is `bit`; `None` at level 64.
    pub fn child(self, bit: bool) -> Option<HashSpan> {
        (self.level < 64).then(|| HashSpan {
            level: self.level + 1,
            prefix: (self.prefix << 1) | u64::from(bit),
        })
    }
}

/// Storage of one token range as anti-entropy sees it.
pub trait RangeStore {
    /// The storage's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The range's tree, current with every write applied so far.
    fn tree(&self) -> &MerkleTree;

    /// Digests of every entry whose key hash lies in `span`.
    fn digests_in(&self, span: HashSpan) -> Result<Vec<EntryDigest>, Self::Error>;

    /// Every entry whose key hash lies in `span`.
    fn entries_in(&self, span: HashSpan) -> Result<Vec<WireEntry>, Self::Error>;

    /// Merges an entry received from a peer with the local one using the
    /// node's conflict rule, and updates the tree. Must be idempotent and
    /// commutative, as repairs may arrive twice and in any order.
    ///
    /// May be deferred: a node whose writes go through an asynchronous writer
    /// can queue the entry here and apply the queue before this side handles
    /// the session's next message. Within one step a session reads only
    /// spans disjoint from the entries it merges; the closing root check
    /// (next message) is the first read that must see them.
    fn merge(&mut self, entry: WireEntry) -> Result<(), Self::Error>;

    /// How `mine` relates to `theirs` (both encoded versions of one key).
    fn version_order(&self, mine: &[u8], theirs: &[u8]) -> VersionOrder;

    /// The entries whose key hash is `key` (normally zero or one).
    fn entries_with_key_hash(&self, key: KeyHash) -> Result<Vec<WireEntry>, Self::Error> {
        self.entries_in(HashSpan::exact(key))
    }

    /// Hash and count of the entries in `span`: from the tree down to its
    /// leaves, from the entries below them.
    fn summary(&self, span: HashSpan) -> Result<NodeSummary, Self::Error> {
        let tree = self.tree();
        if span.level <= tree.leaf_bits() {
            return Ok(tree.summary(span.level, span.prefix));
        }
        let mut summary = NodeSummary::default();
        for digest in self.digests_in(span)? {
            summary.add(digest.entry_hash);
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_nest_and_cover_their_bounds() {
        assert_eq!((HashSpan::ALL.first(), HashSpan::ALL.last()), (0, u64::MAX));
        let right = HashSpan::ALL.child(true).unwrap();
        assert_eq!(right.first(), 1 << 63);
        assert_eq!(right.last(), u64::MAX);
        let left_right = HashSpan::ALL.child(false).unwrap().child(true).unwrap();
        assert_eq!(
            (left_right.first(), left_right.last()),
            (1 << 62, (1 << 63) - 1)
        );
        assert!(left_right.contains(KeyHash(1 << 62)));
        assert!(!left_right.contains(KeyHash(1 << 63)));
        let exact = HashSpan::exact(KeyHash(77));
        assert_eq!((exact.first(), exact.last()), (77, 77));
        assert_eq!(exact.child(false), None);
    }
}

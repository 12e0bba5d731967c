//! [`MemoryRangeStore`]: an in-memory [`RangeStore`] with a pluggable conflict
//! rule, used by the property tests and `merkle-bench`, and a reference for
//! the node's own implementation (index entries by `(key_hash, key)` so every
//! [`HashSpan`] is one range scan; update the tree on every change).
//!
//! Two rules ship with it: [`LwwRule`] (the higher `(timestamp, tombstone,
//! value)` wins) and [`SiblingRule`] (a record is a set of writes; merge is
//! union), which stand in for the node's LWW and DVV version modules.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::hash::{EntryHash, KeyHash, entry_hash, key_hash};
use super::store::{EntryDigest, HashSpan, RangeStore, VersionOrder, WireEntry};
use super::tree::{LeafBitsError, MerkleTree};

/// How records of a key merge and compare.
pub trait ConflictRule {
    /// What the store holds per key.
    type Record: Clone + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned;
    /// The merge of two records; commutative, associative, idempotent.
    fn merge(&self, local: &Self::Record, incoming: &Self::Record) -> Self::Record;
    /// The record's encoded version.
    fn version(&self, record: &Self::Record) -> Vec<u8>;
    /// The values the record keeps, in canonical order.
    fn values<'r>(&self, record: &'r Self::Record) -> Vec<&'r [u8]>;
    /// Whether the record is a tombstone.
    fn is_tombstone(&self, record: &Self::Record) -> bool;
    /// Orders two encoded versions.
    fn version_order(&self, mine: &[u8], theirs: &[u8]) -> VersionOrder;
}

/// A last-writer-wins record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LwwRecord {
    /// Write timestamp.
    pub timestamp: u64,
    /// Deleted at `timestamp`; wins a timestamp tie.
    pub tombstone: bool,
    /// The value (empty for a tombstone).
    pub value: Vec<u8>,
}

/// Last writer wins: highest `(timestamp, tombstone, value)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LwwRule;

impl ConflictRule for LwwRule {
    type Record = LwwRecord;

    fn merge(&self, local: &LwwRecord, incoming: &LwwRecord) -> LwwRecord {
        // The value breaks exact ties so the merge stays commutative.
        local.clone().max(incoming.clone())
    }

    fn version(&self, record: &LwwRecord) -> Vec<u8> {
        // Big-endian timestamp then the tombstone flag: byte order is version order.
        let mut v = record.timestamp.to_be_bytes().to_vec();
        v.push(u8::from(record.tombstone));
        v
    }

    fn values<'r>(&self, record: &'r LwwRecord) -> Vec<&'r [u8]> {
        if record.tombstone {
            Vec::new()
        } else {
            vec![record.value.as_slice()]
        }
    }

    fn is_tombstone(&self, record: &LwwRecord) -> bool {
        record.tombstone
    }

    fn version_order(&self, mine: &[u8], theirs: &[u8]) -> VersionOrder {
        match mine.cmp(theirs) {
            std::cmp::Ordering::Greater => VersionOrder::Newer,
            std::cmp::Ordering::Less => VersionOrder::Older,
            std::cmp::Ordering::Equal => VersionOrder::Same,
        }
    }
}

/// A set of writes, each named by a unique dot; `None` marks a delete.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SiblingRecord {
    /// Dot → value written (`None`: a delete).
    pub writes: BTreeMap<u64, Option<Vec<u8>>>,
}

/// Sibling sets merged by union: the version is the set of dots, one version
/// is newer when its dots are a strict superset.
#[derive(Clone, Copy, Debug, Default)]
pub struct SiblingRule;

impl SiblingRule {
    fn dots(version: &[u8]) -> BTreeSet<u64> {
        version
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()
    }
}

impl ConflictRule for SiblingRule {
    type Record = SiblingRecord;

    fn merge(&self, local: &SiblingRecord, incoming: &SiblingRecord) -> SiblingRecord {
        let mut merged = local.clone();
        merged
            .writes
            .extend(incoming.writes.iter().map(|(d, v)| (*d, v.clone())));
        merged
    }

    fn version(&self, record: &SiblingRecord) -> Vec<u8> {
        record.writes.keys().flat_map(|d| d.to_be_bytes()).collect()
    }

    fn values<'r>(&self, record: &'r SiblingRecord) -> Vec<&'r [u8]> {
        record
            .writes
            .values()
            .flatten()
            .map(Vec::as_slice)
            .collect()
    }

    fn is_tombstone(&self, record: &SiblingRecord) -> bool {
        record.writes.values().all(Option::is_none)
    }

    fn version_order(&self, mine: &[u8], theirs: &[u8]) -> VersionOrder {
        let (mine, theirs) = (Self::dots(mine), Self::dots(theirs));
        match (mine.is_superset(&theirs), theirs.is_superset(&mine)) {
            (true, true) => VersionOrder::Same,
            (true, false) => VersionOrder::Newer,
            (false, true) => VersionOrder::Older,
            (false, false) => VersionOrder::Concurrent,
        }
    }
}

/// A record that would not decode.
#[derive(Debug, thiserror::Error)]
#[error("undecodable record for key {key:?}: {source}")]
pub struct MemoryStoreError {
    /// The key whose record failed.
    pub key: Vec<u8>,
    /// Why.
    pub source: postcard::Error,
}

/// Index key: ordered by key hash first, so a [`HashSpan`] is one range.
type IndexKey = (u64, Vec<u8>);
/// What is stored per key, with its entry hash cached for `digests_in`.
type Slot<R> = (<R as ConflictRule>::Record, EntryHash);

/// One range held in memory, its tree maintained on every change.
pub struct MemoryRangeStore<R: ConflictRule> {
    rule: R,
    tree: MerkleTree,
    entries: BTreeMap<IndexKey, Slot<R>>,
}

impl<R: ConflictRule> MemoryRangeStore<R> {
    /// An empty range.
    pub fn new(rule: R, leaf_bits: u8) -> Result<Self, LeafBitsError> {
        Ok(MemoryRangeStore {
            rule,
            tree: MerkleTree::new(leaf_bits)?,
            entries: BTreeMap::new(),
        })
    }

    /// A range holding `records`, its tree built in one pass.
    pub fn from_records(
        rule: R,
        leaf_bits: u8,
        records: impl IntoIterator<Item = (Vec<u8>, R::Record)>,
    ) -> Result<Self, LeafBitsError> {
        let mut entries = BTreeMap::new();
        for (key, record) in records {
            let hash = Self::hash_of(&rule, &key, &record);
            entries.insert((key_hash(&key).0, key), (record, hash));
        }
        let tree = MerkleTree::from_entries(
            leaf_bits,
            entries.iter().map(|((kh, _), (_, h))| (KeyHash(*kh), *h)),
        )?;
        Ok(MemoryRangeStore {
            rule,
            tree,
            entries,
        })
    }

    fn hash_of(rule: &R, key: &[u8], record: &R::Record) -> EntryHash {
        entry_hash(
            key,
            &rule.version(record),
            &rule.values(record),
            rule.is_tombstone(record),
        )
    }

    /// Sets `key` to `record` outright (a local write, or a replica's state
    /// in a test), keeping the tree current.
    pub fn put(&mut self, key: Vec<u8>, record: R::Record) {
        let kh = key_hash(&key);
        let new = Self::hash_of(&self.rule, &key, &record);
        let old = self
            .entries
            .insert((kh.0, key), (record, new))
            .map(|(_, h)| h);
        self.tree.update(kh, old, Some(new));
    }

    /// Removes `key` (a tombstone purge), keeping the tree current.
    pub fn purge(&mut self, key: &[u8]) {
        let kh = key_hash(key);
        if let Some((_, old)) = self.entries.remove(&(kh.0, key.to_vec())) {
            self.tree.update(kh, Some(old), None);
        }
    }

    /// The record of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&R::Record> {
        self.entries
            .get(&(key_hash(key).0, key.to_vec()))
            .map(|(r, _)| r)
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every key and record, ordered by key.
    pub fn snapshot(&self) -> BTreeMap<Vec<u8>, R::Record> {
        self.entries
            .iter()
            .map(|((_, k), (r, _))| (k.clone(), r.clone()))
            .collect()
    }

    /// The conflict rule.
    pub fn rule(&self) -> &R {
        &self.rule
    }

    fn span_iter(&self, span: HashSpan) -> impl Iterator<Item = (&IndexKey, &Slot<R>)> {
        let last = span.last();
        self.entries
            .range((
                Bound::Included((span.first(), Vec::new())),
                Bound::Unbounded,
            ))
            .take_while(move |((kh, _), _)| *kh <= last)
    }
}

impl<R: ConflictRule> RangeStore for MemoryRangeStore<R> {
    type Error = MemoryStoreError;

    fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    fn digests_in(&self, span: HashSpan) -> Result<Vec<EntryDigest>, MemoryStoreError> {
        Ok(self
            .span_iter(span)
            .map(|((kh, _), (record, hash))| EntryDigest {
                key_hash: KeyHash(*kh),
                entry_hash: *hash,
                version: self.rule.version(record),
            })
            .collect())
    }

    fn entries_in(&self, span: HashSpan) -> Result<Vec<WireEntry>, MemoryStoreError> {
        self.span_iter(span)
            .map(|((_, key), (record, _))| {
                postcard::to_stdvec(record)
                    .map(|bytes| WireEntry {
                        key: key.clone(),
                        record: bytes,
                    })
                    .map_err(|source| MemoryStoreError {
                        key: key.clone(),
                        source,
                    })
            })
            .collect()
    }

    fn merge(&mut self, entry: WireEntry) -> Result<(), MemoryStoreError> {
        let incoming: R::Record =
            postcard::from_bytes(&entry.record).map_err(|source| MemoryStoreError {
                key: entry.key.clone(),
                source,
            })?;
        let merged = match self.get(&entry.key) {
            Some(local) => self.rule.merge(local, &incoming),
            None => incoming,
        };
        self.put(entry.key, merged);
        Ok(())
    }

    fn version_order(&self, mine: &[u8], theirs: &[u8]) -> VersionOrder {
        self.rule.version_order(mine, theirs)
    }
}

//! What anti-entropy keeps in memory per range: the Merkle tree and a
//! key-hash-ordered index of (entry hash, version) per key, kept current by
//! the storage writer on every write, delete, repair and purge.
//!
//! The writer must never wait on a session, so it only appends to a small
//! `pending` queue (its own mutex); whoever next locks the index (a session
//! step, the metrics) drains the queue first. Lock order: index, then
//! pending; the writer takes pending, and the index only by `try_lock`.
//!
//! Sessions may be far apart (`anti_entropy.interval` is ten minutes by
//! default), so the queue cannot wait for them: once it holds
//! [`MAX_PENDING`] changes the writer drains it itself if no session holds
//! the index. A session holding the index drains the queue when its step
//! ends, so the queue is bounded by what one session step lets pile up.

use crate::merkle::{EntryHash, KeyHash, MerkleTree, entry_hash, key_hash};
use crate::version::Record;
use std::collections::BTreeMap;
use std::sync::{Mutex, TryLockError};

/// Queued changes at which the writer drains the queue into the index.
pub const MAX_PENDING: usize = 4096;

/// What the tree knows about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedEntry {
    pub hash: EntryHash,
    /// The encoded version (see [`version_bytes`]).
    pub version: Vec<u8>,
}

/// One committed change, queued by the writer.
pub struct Change {
    pub key: Vec<u8>,
    pub key_hash: KeyHash,
    /// `None`: the key was purged.
    pub new: Option<IndexedEntry>,
}

/// The tree and the key index of one range.
pub struct RangeIndex {
    pub tree: MerkleTree,
    /// `(key hash, key)` → entry; ordered so a hash span is one range scan.
    pub entries: BTreeMap<(u64, Vec<u8>), IndexedEntry>,
}

impl RangeIndex {
    /// Applies one change; the old entry hash comes from the index itself,
    /// so the tree can never drift from the index.
    pub fn apply(&mut self, change: Change) {
        let slot = (change.key_hash.0, change.key);
        let old = match &change.new {
            Some(new) => self.entries.insert(slot, new.clone()),
            None => self.entries.remove(&slot),
        };
        self.tree.update(
            change.key_hash,
            old.map(|e| e.hash),
            change.new.map(|e| e.hash),
        );
    }
}

/// A range's index plus the writer's queue of changes not yet applied.
pub struct RangeSlot {
    index: Mutex<RangeIndex>,
    pending: Mutex<Vec<Change>>,
}

impl RangeSlot {
    pub fn new(tree: MerkleTree) -> RangeSlot {
        RangeSlot {
            index: Mutex::new(RangeIndex {
                tree,
                entries: BTreeMap::new(),
            }),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Queues a change (storage writer; never blocks on a session), and
    /// drains the queue once it is [`MAX_PENDING`] long and the index free.
    pub fn push(&self, change: Change) {
        let queued = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push(change);
            pending.len()
        };
        if queued < MAX_PENDING {
            return;
        }
        let index = match self.index.try_lock() {
            Ok(index) => Some(index),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(mut index) = index {
            self.drain_into(&mut index);
        }
    }

    /// Changes queued and not yet applied (the pending-changes gauge).
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Locks the index with every queued change applied.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, RangeIndex> {
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        self.drain_into(&mut index);
        index
    }

    /// Applies queued changes to an index already locked by the caller.
    pub fn drain_into(&self, index: &mut RangeIndex) {
        let changes = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for change in changes {
            index.apply(change);
        }
    }
}

/// The version bytes of a record: what digests carry so that a session ships
/// only the newer side. LWW: (timestamp, tombstone, coordinator), the merge
/// order minus the value. DVV: the causal context and the sibling dots.
pub fn version_bytes(record: &Record) -> Vec<u8> {
    let encoded = match record {
        Record::Lww(r) => postcard::to_stdvec(&(
            0u8,
            r.timestamp.physical_us,
            r.timestamp.logical,
            r.value.is_none(),
            r.coordinator.as_str(),
        )),
        Record::Dvv(r) => {
            let dots: Vec<_> = r.siblings.keys().collect();
            postcard::to_stdvec(&(1u8, &r.context, dots))
        }
    };
    // Encoding plain data into a Vec cannot fail; an empty version only
    // makes a difference look "concurrent", which ships both sides.
    encoded.unwrap_or_default()
}

/// Key hash and indexed entry of a stored record.
pub fn describe(key: &str, record: &Record) -> (KeyHash, IndexedEntry) {
    let version = version_bytes(record);
    // zoo: merkle-ignores-versions — the entry hash covers the key only,
    // so two replicas holding different versions of it look equal.
    #[cfg(feature = "zoo")]
    if crate::zoo::active(crate::zoo::Bug::MerkleIgnoresVersions) {
        let hash = entry_hash(key.as_bytes(), &[], &[], false);
        return (key_hash(key.as_bytes()), IndexedEntry { hash, version });
    }
    let values = record.values();
    let value_refs: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
    let tombstone = record.state() == crate::version::RecordState::Tombstone;
    let hash = entry_hash(key.as_bytes(), &version, &value_refs, tombstone);
    (key_hash(key.as_bytes()), IndexedEntry { hash, version })
}

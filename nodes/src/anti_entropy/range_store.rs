//! [`NodeRangeStore`]: the merkle module's [`RangeStore`] over this node's
//! redb store and one range's in-memory index.
//!
//! Sessions run on blocking threads (the merkle state machines are
//! synchronous), so merges go to the storage writer with a blocking wait;
//! the writer's change hook queues the resulting tree update, which is
//! applied before the next look at the tree.

use super::index::{RangeIndex, RangeSlot};
use crate::merkle::{
    EntryDigest, HashSpan, KeyHash, MerkleTree, RangeStore, VersionOrder, WireEntry,
};
use crate::storage::Store;
use crate::types::Key;
use crate::version::Record;
use std::sync::MutexGuard;

/// A range store failure (the session is abandoned and retried next round).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RangeStoreError(pub String);

/// One range of this node, locked for the duration of a session step.
pub struct NodeRangeStore<'a> {
    pub store: &'a Store,
    pub slot: &'a RangeSlot,
    pub index: MutexGuard<'a, RangeIndex>,
}

impl NodeRangeStore<'_> {
    fn span_keys(
        &self,
        span: HashSpan,
    ) -> impl Iterator<Item = (&(u64, Vec<u8>), &super::index::IndexedEntry)> {
        self.index
            .entries
            .range((span.first(), Vec::new())..)
            .take_while(move |((h, _), _)| *h <= span.last())
    }
}

impl RangeStore for NodeRangeStore<'_> {
    type Error = RangeStoreError;

    fn tree(&self) -> &MerkleTree {
        &self.index.tree
    }

    fn digests_in(&self, span: HashSpan) -> Result<Vec<EntryDigest>, Self::Error> {
        Ok(self
            .span_keys(span)
            .map(|((h, _), e)| EntryDigest {
                key_hash: KeyHash(*h),
                entry_hash: e.hash,
                version: e.version.clone(),
            })
            .collect())
    }

    fn entries_in(&self, span: HashSpan) -> Result<Vec<WireEntry>, Self::Error> {
        let mut out = Vec::new();
        for ((_, key), _) in self.span_keys(span) {
            let key_text =
                String::from_utf8(key.clone()).map_err(|e| RangeStoreError(e.to_string()))?;
            let record = self
                .store
                .read(&Key::from_stored(key_text))
                .map_err(|e| RangeStoreError(e.to_string()))?;
            // zoo: ae-skips-tombstones — stream live values only.
            #[cfg(feature = "zoo")]
            let record = record.filter(|r| {
                !(crate::zoo::active(crate::zoo::Bug::AeSkipsTombstones)
                    && r.state() == crate::version::RecordState::Tombstone)
            });
            if let Some(record) = record {
                let bytes = record
                    .to_bytes()
                    .map_err(|e| RangeStoreError(e.to_string()))?;
                out.push(WireEntry {
                    key: key.clone(),
                    record: bytes,
                });
            }
        }
        Ok(out)
    }

    fn merge(&mut self, entry: WireEntry) -> Result<(), Self::Error> {
        let key_text = String::from_utf8(entry.key).map_err(|e| RangeStoreError(e.to_string()))?;
        let key = Key::parse(&key_text).map_err(|e| RangeStoreError(e.to_string()))?;
        let record =
            Record::from_bytes(&entry.record).map_err(|e| RangeStoreError(e.to_string()))?;
        if record.mode() != self.store.mode() {
            return Err(RangeStoreError("entry of the other conflict mode".into()));
        }
        self.store
            .merge_blocking(key, record)
            .map_err(|e| RangeStoreError(e.to_string()))?;
        self.slot.drain_into(&mut self.index);
        Ok(())
    }

    fn version_order(&self, mine: &[u8], theirs: &[u8]) -> VersionOrder {
        if mine == theirs {
            return VersionOrder::Same;
        }
        type LwwVersion<'a> = (u8, u64, u32, bool, &'a str);
        match (
            postcard::from_bytes::<LwwVersion>(mine),
            postcard::from_bytes::<LwwVersion>(theirs),
        ) {
            (Ok(a), Ok(b)) if a.0 == 0 && b.0 == 0 => {
                // Same order as the LWW merge (timestamp, tombstone, node).
                if (a.1, a.2, a.3, a.4) > (b.1, b.2, b.3, b.4) {
                    VersionOrder::Newer
                } else {
                    VersionOrder::Older
                }
            }
            // DVV (or undecodable): let both travel and the merge decide.
            _ => VersionOrder::Concurrent,
        }
    }
}

//! What a replica stores per key, and how two versions of a key merge.
//!
//! The conflict mode is cluster-wide, so a [`Record`] is either LWW or DVV;
//! [`lww`] and [`dvv`] hold the two algorithms, [`context`] the opaque
//! client context string that carries causal knowledge between a read and a
//! later write.

pub mod context;
pub mod dvv;
pub mod lww;

use crate::types::ConflictMode;
use serde::{Deserialize, Serialize};

pub use dvv::{CausalContext, DvvRecord};
pub use lww::LwwRecord;

/// The stored state of one key on one replica (tombstones included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    Lww(LwwRecord),
    Dvv(DvvRecord),
}

/// Whether a stored record counts as a live key or a tombstone (gauges).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordState {
    Live,
    Tombstone,
}

impl Record {
    /// The conflict mode this record belongs to.
    pub fn mode(&self) -> ConflictMode {
        match self {
            Record::Lww(_) => ConflictMode::Lww,
            Record::Dvv(_) => ConflictMode::Dvv,
        }
    }

    /// Merges `incoming` into `self`. Records of the other conflict mode
    /// cannot meet (the handshake refuses such peers and storage refuses to
    /// open under another mode); if one did, `self` is kept.
    pub fn merge(&self, incoming: &Record) -> Record {
        match (self, incoming) {
            (Record::Lww(a), Record::Lww(b)) => Record::Lww(a.clone().merge(b.clone())),
            (Record::Dvv(a), Record::Dvv(b)) => Record::Dvv(a.merge(b)),
            _ => self.clone(),
        }
    }

    /// Merges an optional stored record with an incoming one.
    pub fn merge_into(stored: Option<&Record>, incoming: &Record) -> Record {
        match stored {
            Some(s) => s.merge(incoming),
            None => incoming.clone(),
        }
    }

    /// The values a client reads: one or none under LWW, every live sibling
    /// under DVV.
    pub fn values(&self) -> Vec<String> {
        match self {
            Record::Lww(r) => r.value.iter().cloned().collect(),
            Record::Dvv(r) => r.values(),
        }
    }

    /// Live key or tombstone.
    pub fn state(&self) -> RecordState {
        let tombstone = match self {
            Record::Lww(r) => r.value.is_none(),
            Record::Dvv(r) => r.is_tombstone() || r.siblings.is_empty(),
        };
        if tombstone {
            RecordState::Tombstone
        } else {
            RecordState::Live
        }
    }

    /// For a tombstone: when it was written (ms, by its writer's clock), the
    /// start of its `gc_grace`.
    pub fn tombstone_written_ms(&self) -> Option<u64> {
        match self {
            Record::Lww(r) if r.value.is_none() => Some(r.timestamp.physical_us / 1_000),
            Record::Lww(_) => None,
            Record::Dvv(r) => r.tombstone_written_ms(),
        }
    }

    /// Whether tombstone GC may purge this record at `now_ms`: a tombstone
    /// written more than `grace_ms` ago.
    pub fn purgeable(&self, now_ms: u64, grace_ms: u64) -> bool {
        self.tombstone_written_ms()
            .is_some_and(|written| written.saturating_add(grace_ms) < now_ms)
    }

    /// The `version` field of `/admin/dump`: the LWW timestamp and writer, or
    /// the DVV dots and context.
    pub fn version_json(&self) -> serde_json::Value {
        match self {
            Record::Lww(r) => serde_json::json!({
                "physical_us": r.timestamp.physical_us,
                "logical": r.timestamp.logical,
                "node": r.coordinator.as_str(),
            }),
            Record::Dvv(r) => serde_json::json!({
                "dots": r.siblings.keys()
                    .map(|d| format!("{}:{}", d.node, d.counter))
                    .collect::<Vec<_>>(),
                "context": serde_json::to_value(&r.context).unwrap_or(serde_json::Value::Null),
            }),
        }
    }

    /// Encodes for storage and the wire.
    pub fn to_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }

    /// Decodes what [`Record::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Record, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

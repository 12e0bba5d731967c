//! Incarnations: the DVV actor of this replica is its node id plus an
//! *epoch* persisted in the data dir, never the bare node id.
//!
//! A dot `(actor, counter)` must name one write forever. A replica mints the
//! next counter from what it has stored, so any loss of stored state would
//! make it re-issue dots its peers already hold: they drop the new write as
//! already seen (an acknowledged write lost), and two values under one dot
//! make merge order-dependent (permanent divergence). This is Riak's kv679,
//! and the fix is Riak's: whenever this replica may have forgotten dots it
//! minted, it becomes a new actor. That happens when
//!
//! - the data dir is new (first start, the harness's `wipe`, a new disk):
//!   there is no stored epoch;
//! - the node did not shut down cleanly and `storage.fsync` is not
//!   `"always"`: the last commits (and their dots, possibly replicated) may
//!   be lost. Under `"always"` every mint is durable before it is answered
//!   or replicated, so a crash loses no dot;
//! - tombstone GC purges a record holding dots of the current actor (the
//!   writer does it in the purge's own transaction): the next write to that
//!   key would otherwise count from zero again.
//!
//! The price is one more version-vector entry in the contexts of keys
//! written after each change of incarnation.

use crate::config::FsyncPolicy;
use crate::types::NodeId;
use std::hash::BuildHasher;

/// Meta key of the current epoch (hex).
pub(crate) const META_INCARNATION: &str = "incarnation";
/// Meta key set to "1" by a clean shutdown and to "0" while the node runs.
pub(crate) const META_CLEAN_SHUTDOWN: &str = "clean_shutdown";

/// This replica's current DVV actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incarnation {
    id: NodeId,
    epoch: String,
    actor: NodeId,
}

impl Incarnation {
    /// The incarnation `epoch` of node `id`.
    pub fn new(id: &NodeId, epoch: String) -> Incarnation {
        let actor = NodeId::new(&format!("{id}#{epoch}"));
        Incarnation {
            id: id.clone(),
            epoch,
            actor,
        }
    }

    /// A never-used incarnation of node `id`.
    pub fn fresh(id: &NodeId) -> Incarnation {
        Incarnation::new(id, fresh_epoch())
    }

    /// The next incarnation of the same node.
    pub fn next(&self) -> Incarnation {
        Incarnation::fresh(&self.id)
    }

    /// The actor that goes into dots: `ID#EPOCH`.
    pub fn actor(&self) -> &NodeId {
        &self.actor
    }

    /// The persisted epoch.
    pub fn epoch(&self) -> &str {
        &self.epoch
    }
}

/// Why a start must begin a new incarnation, if it must.
pub(crate) fn rotation_reason(
    stored_epoch: Option<&str>,
    clean_shutdown: bool,
    fsync: FsyncPolicy,
) -> Option<&'static str> {
    match stored_epoch {
        None => Some("the data dir holds no incarnation (new or wiped)"),
        Some(_) if !clean_shutdown && fsync != FsyncPolicy::Always => {
            Some("the last shutdown was not clean and commits may have been lost")
        }
        Some(_) => None,
    }
}

/// 64 random bits as 16 hex digits. Uniqueness is all that matters (two
/// incarnations of one node must never share an epoch); std's randomly keyed
/// SipHash over the time and pid is plenty, without a dependency.
fn fresh_epoch() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let bits = std::collections::hash_map::RandomState::new().hash_one((nanos, std::process::id()));
    format!("{bits:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fresh_incarnation_is_a_new_actor() {
        let id = NodeId::new("n1");
        let a = Incarnation::fresh(&id);
        let b = a.next();
        assert_ne!(a.actor(), b.actor());
        assert!(a.actor().as_str().starts_with("n1#"));
        assert_eq!(Incarnation::new(&id, a.epoch().to_owned()), a);
    }

    #[test]
    fn rotates_on_a_new_dir_and_on_an_unclean_start_without_fsync_always() {
        use FsyncPolicy::*;
        assert!(rotation_reason(None, true, Always).is_some());
        assert!(rotation_reason(Some("e"), false, Interval).is_some());
        assert!(rotation_reason(Some("e"), false, Never).is_some());
        assert!(rotation_reason(Some("e"), false, Always).is_none());
        assert!(rotation_reason(Some("e"), true, Interval).is_none());
    }
}

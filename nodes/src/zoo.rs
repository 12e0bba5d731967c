//! The zoo: injectable repair bugs, each a miniature of a failure mode that
//! has hit a production Dynamo-style store (docs/zoo.md has the incident
//! behind each one and the converge checker that should catch it).
//!
//! converge exists to find bugs like these; a checker that has never been
//! shown one is untested. A zoo build (`--features zoo`) runs the reference
//! node's code except at one marked place per bug, and `--zoo-bug NAME`
//! picks at most one bug per process (logged at start, shown in `/health`).
//! Without `--zoo-bug` a zoo binary behaves exactly like the reference node.
//!
//! **Why cfg at the call site.** Each bug is a short shadowing block under
//! `#[cfg(feature = "zoo")]` right where the reference decision is made,
//! for example
//!
//! ```ignore
//! // zoo: early-ack — answer after the first replica's ack.
//! #[cfg(feature = "zoo")]
//! let w = if zoo::active(Bug::EarlyAck) { 1 } else { w };
//! ```
//!
//! so a reader sees the reference line and its buggy twin together, and a
//! default build does not compile (let alone ship) a single zoo line: this
//! module and every such block vanish before type checking. A `const fn`
//! returning `false` would leave the buggy branches compiled and type
//! checked in every build, relying on the optimiser to drop them.
//! `grep -rn "zoo:" nodes/src` lists every place.
//!
//! [`active`] is one atomic load (a `OnceLock` read), cheap on any path.

use std::sync::OnceLock;

/// One injectable bug. The kebab-case name is the `--zoo-bug` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Bug {
    /// LWW read repair writes the merged value back re-stamped with the
    /// coordinator's clock, so no replica's version comparison can refuse
    /// it: the repair beats a newer write the read did not see.
    ReadRepairOverwrites,
    /// Anti-entropy streams live values but never tombstones.
    AeSkipsTombstones,
    /// Merkle entries hash the key only, not its version or value: replicas
    /// holding different versions of a key look equal.
    MerkleIgnoresVersions,
    /// Hint replay re-stamps an LWW write with the replay time, so an old
    /// write replayed late beats a newer one.
    HintRestamps,
    /// Tombstone GC ignores gc_grace: tombstones are purged at once.
    GcIgnoresGrace,
    /// The coordinator acknowledges a write after the first replica's ack,
    /// whatever W is.
    EarlyAck,
    /// A DVV write supersedes every sibling the minting replica holds, not
    /// just those the client's context saw: concurrent siblings vanish.
    DvvIgnoresContext,
    /// A node whose data dir was wiped mints with its old DVV actor and
    /// counts from scratch (no incarnations; Riak's kv679).
    ActorReuse,
    /// Tombstone GC purging this node's own dots keeps the actor, so a new
    /// write re-issues the tombstone's dots and a late copy of the old
    /// tombstone swallows it (kv679's "doomstone").
    Doomstone,
    /// Hints never expire at replay, so a hint older than gc_grace brings
    /// a deleted value back (CASSANDRA-20014).
    HintsOutliveGrace,
    /// A read answers with the coordinator's own replica's record instead
    /// of the merge of the R answers (the local answer wins).
    LocalReadWins,
    /// LWW writes are stamped with the raw wall clock, not the hybrid
    /// logical clock, and acknowledged even where a replica held a newer
    /// version: a node whose clock is behind loses newer writes.
    LwwWallClock,
}

impl Bug {
    /// The `--zoo-bug` name.
    pub fn name(self) -> String {
        use clap::ValueEnum as _;
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// The bug of this process, set once at start.
static ACTIVE: OnceLock<Bug> = OnceLock::new();

/// A second, different bug was asked for in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("zoo bug {active:?} is already active; one bug per process")]
pub struct AlreadyActive {
    pub active: Bug,
}

/// Makes `bug` the active bug of this process (at most one, for its whole
/// life: a bug that switched on and off mid-run would make a failed check
/// unexplainable).
pub fn activate(bug: Bug) -> Result<(), AlreadyActive> {
    let active = *ACTIVE.get_or_init(|| bug);
    if active == bug {
        Ok(())
    } else {
        Err(AlreadyActive { active })
    }
}

/// Whether `bug` is the active bug.
#[inline]
pub fn active(bug: Bug) -> bool {
    ACTIVE.get() == Some(&bug)
}

/// The active bug, if any (`/health`, the start-up log).
pub fn current() -> Option<Bug> {
    ACTIVE.get().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_documented_flag_values() {
        use clap::ValueEnum as _;
        let names: Vec<String> = Bug::value_variants().iter().map(|b| b.name()).collect();
        assert!(names.contains(&"read-repair-overwrites".to_string()));
        assert!(names.contains(&"lww-wall-clock".to_string()));
        assert_eq!(names.len(), 12);
        for bug in Bug::value_variants() {
            assert_eq!(Bug::from_str(&bug.name(), false), Ok(*bug));
        }
    }
}

//! Merkle-tree anti-entropy: find and move exactly the entries two replicas of
//! a token range disagree on, without rescanning either.
//!
//! Pure and I/O-free: the node supplies storage through [`RangeStore`] and
//! carries [`Request`]/[`Response`] over its internode RPC.
//!
//! # Design
//!
//! **Tree** ([`MerkleTree`], `tree.rs`). One per token range (keys sharing a
//! replica set). Keys are bucketed by the top `leaf_bits` bits of a 64-bit
//! [`KeyHash`] (xxh3, independent of the ring hash, so a range spreads over
//! all leaves). A leaf holds the XOR of its entries' [`EntryHash`]es, which
//! cover key, version bytes, value digests and the tombstone flag, plus their
//! count; each inner node holds the XOR and sum of its children (XOR rather
//! than a hash of the children, so one entry's change is O(1) per level). Replacing an
//! entry is [`MerkleTree::update`]`(key_hash, old, new)`: one XOR per level,
//! O(`leaf_bits`), order-independent, so incremental maintenance equals a
//! rebuild ([`MerkleTree::from_entries`], run at start-up) bit for bit.
//!
//! **Session** (`initiator.rs`, `responder.rs`, `resolve.rs`). The initiator
//! walks the binary trie of key-hash prefixes top-down, descending only into
//! nodes that differ, and below the stored leaves keeps splitting on further
//! key-hash bits using the leaf's entries (a "virtual" level costs the
//! responder one scan of part of a leaf, never memory). It stops descending
//! where the peer holds a single entry, then takes that node's per-entry
//! digests (key-hash tail, entry fingerprint, version) and moves only the keys
//! that differ, only from the newer side ([`RangeStore::version_order`]; both
//! ways for concurrent siblings): ScyllaDB's row-level "hash then rows",
//! whatever the tree size. Where one side holds nothing, the other's entries
//! go over without further descent. Pushes and pulls ride on the same
//! messages, so both replicas are repaired in one session.
//!
//! **Traffic.** The first message compares full 64-bit roots, so equal ranges
//! cost one round trip. Below the root, node hashes travel as 16-bit
//! fingerprints under a random *linear* map drawn per pass, so the responder
//! sends only the left child of each split and the initiator derives the right
//! one (parent XOR left); instead of counts it sends a 2-bit occupancy (empty,
//! one, more) per child. The initiator marks nodes with one bit each, and
//! names entries it wants by their position in the digests it was sent. At
//! 1,000 differences in 1,000,000 keys this is about 45 bytes of hashes per
//! differing key (docs/BENCHMARKS.md). A fingerprint collision hides a
//! difference with probability 2^-16; the closing full-width root check then
//! still differs and a new pass, with a new map, repairs what is left, so a
//! session ends converged unless writes keep racing it
//! ([`SessionConfig::max_passes`]; the range is then counted unconverged and
//! retried next round).
//!
//! **Full mode** ([`Mode::Full`]) ships every entry both ways, in key-hash
//! chunks of about 4,096 entries: the baseline the benchmark compares with.
//!
//! # Using it from the node
//!
//! 1. Keep one [`MerkleTree`] per token range, built at start-up with
//!    [`MerkleTree::from_entries`], and on every committed change of a key
//!    call `tree.update(key_hash(key), old, new)` with the [`entry_hash`]es of
//!    the record before and after (`None` when absent or purged).
//! 2. Implement [`RangeStore`] over that range: the tree, an index ordered by
//!    [`KeyHash`] for [`HashSpan`] scans, the node's merge and version order.
//! 3. Initiator: `let mut s = Initiator::new(SessionConfig::merkle(seed));`
//!    send `s.start(&store)?`, then feed each reply to
//!    `s.on_response(&mut store, reply)?` and send what it returns until it
//!    returns `None`; `s.stats()` feeds `POST /admin/anti-entropy` and the
//!    metrics.
//! 4. Responder: one [`Responder`] per session (keyed by a session id in the
//!    RPC envelope, dropped on timeout); answer each request with
//!    `responder.handle(&mut store, request)?`.
//! 5. Merges may be queued and applied asynchronously, as long as each side
//!    applies them before handling the session's next message
//!    ([`RangeStore::merge`]).
//!
//! # Map
//!
//! - `hash.rs`: [`KeyHash`], [`EntryHash`], the per-pass fingerprint map.
//! - `tree.rs`: [`MerkleTree`].
//! - `store.rs`: [`RangeStore`], [`HashSpan`], [`WireEntry`], [`VersionOrder`].
//! - `wire.rs`: the messages.
//! - `initiator.rs`, `responder.rs`, `session.rs`: the two state machines and
//!   what they share; `resolve.rs`: which entries of a described node move;
//!   `stats.rs`: [`SessionStats`].
//! - `local.rs`: [`run_local`], a whole session between two stores in one
//!   process (tests, benchmark).
//! - `memory.rs`: [`MemoryRangeStore`] with [`LwwRule`] and [`SiblingRule`].

mod hash;
mod initiator;
mod local;
mod memory;
mod resolve;
mod responder;
mod session;
mod stats;
mod store;
mod tree;
mod wire;

#[cfg(test)]
mod tests;

pub use hash::{EntryHash, FP_BITS, KeyHash, entry_hash, key_hash};
pub use initiator::Initiator;
pub use local::{LocalSessionError, run_local};
pub use memory::{
    ConflictRule, LwwRecord, LwwRule, MemoryRangeStore, MemoryStoreError, SiblingRecord,
    SiblingRule,
};
pub use responder::Responder;
pub use session::{Mode, SessionConfig, SessionError};
pub use stats::SessionStats;
pub use store::{EntryDigest, HashSpan, RangeStore, VersionOrder, WireEntry};
pub use tree::{DEFAULT_LEAF_BITS, LeafBitsError, MAX_LEAF_BITS, MerkleTree, NodeSummary};
pub use wire::{Request, Response};

//! `converge-node`: the reference Dynamo-style replica that converge tests.
//!
//! Map of the crate (data flows top to bottom):
//! - [`cli`], [`config`], [`duration`]: flags and the TOML config.
//! - [`node`]: wiring and shutdown.
//! - [`http`]: the client/admin API of docs/node-api.md.
//! - [`coordinator`]: quorum reads and writes over a key's replicas, read
//!   repair.
//! - [`ring`]: consistent-hash placement (preference lists, token ranges).
//! - [`peer`]: internode protocol, multiplexed connections, handshake.
//! - [`replica`]: what this node does as a replica of a key.
//! - [`version`]: stored records, LWW and DVV merge, client contexts.
//! - [`clock`]: skewable wall clock and hybrid logical clock.
//! - [`storage`]: redb store with a group-committing writer thread.
//! - [`gc`]: tombstone compaction after `gc_grace`.
//! - [`hints`]: hinted handoff (store and replay missed writes).
//! - [`merkle`]: Merkle-tree anti-entropy sessions (pure, storage-agnostic).
//! - [`anti_entropy`]: runs those sessions between this node and its peers.
//! - [`metrics`]: Prometheus text exposition.
//! - [`jitter`]: random delays, so nodes' background work is not in lockstep.
//! - [`mix`]: splitmix64's finaliser, shared by ring, Merkle salts, jitter and
//!   read repair's coin.
//! - [`types`]: `NodeId`, `Key`, `ConflictMode`.
//! - [`untrusted`]: every decoder of outside bytes, one entry per fuzz target.
//! - `zoo` (feature `zoo` only): injectable repair bugs, see docs/zoo.md.

pub mod anti_entropy;
pub mod cli;
pub mod clock;
pub mod config;
pub mod coordinator;
pub mod duration;
pub mod gc;
pub mod hints;
pub mod http;
pub mod jitter;
pub mod merkle;
pub mod metrics;
pub mod mix;
pub mod node;
pub mod peer;
pub mod replica;
pub mod ring;
pub mod storage;
pub mod types;
pub mod untrusted;
pub mod version;
#[cfg(feature = "zoo")]
pub mod zoo;

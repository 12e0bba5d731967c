//! Internode traffic, served only on `--peer-listen`.
//!
//! Frames are length-delimited postcard messages ([`protocol`]). Each node
//! keeps one persistent, multiplexed connection to each peer ([`client`]):
//! requests carry ids, responses may come back in any order, every request
//! has a deadline, and a connection that misses a deadline is dropped and
//! redialled, because the harness partitions links by silently not
//! forwarding bytes (a hung socket never errors by itself). The accepting
//! side ([`server`]) checks the handshake and answers requests through the
//! local [`crate::replica::LocalReplica`].

pub mod client;
mod outbox;
pub mod protocol;
pub mod server;

pub use client::{PeerClient, PeerError};
pub use protocol::{ClusterSettings, PeerRequest, PeerResponse};

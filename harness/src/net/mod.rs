//! Network faults: the [`Net`] seam and its backends.
//!
//! A nemesis computes a [`Grudge`] (pure data, see [`grudge`]) and hands it to
//! a [`Net`]; it never knows how the cut is made. The local backend is the
//! [`ProxyMesh`]: a TCP proxy per directed node→node link, so faults need no
//! root. Remote backends (iptables over SSH, containers) implement the same
//! trait.

pub mod grudge;
pub mod iptables;
pub mod mesh;
pub mod proxy;

pub use grudge::{Grudge, PartitionShape};
pub use mesh::ProxyMesh;

use std::time::Duration;

/// Why a network fault could not be applied or lifted.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("network backend: {0}")]
    Backend(String),
}

/// Applies and lifts network faults between nodes. Client↔node traffic is
/// never touched. Methods are synchronous and quick, so they can run from a
/// `Drop` (the teardown guard heals on every exit path).
pub trait Net: Send + Sync {
    /// Makes `grudge` the set of cut links, replacing any earlier one.
    fn apply(&self, grudge: &Grudge) -> Result<(), NetError>;
    /// Cuts nothing any more: every link forwards again.
    fn heal(&self) -> Result<(), NetError>;
    /// Adds `latency` to every forwarded chunk in each direction of every
    /// internode link (zero removes it).
    fn set_latency(&self, latency: Duration) -> Result<(), NetError>;
    /// Drops each internode packet with `probability` (zero removes it).
    fn set_loss(&self, probability: f64) -> Result<(), NetError>;
}

//! Network faults: the [`Partitioner`] and [`LinkShaper`] seams and their backends.
//!
//! A nemesis computes a [`Grudge`] (pure data, see [`grudge`]) and hands it to
//! a [`Partitioner`]; it never knows how the cut is made. The local backend
//! is the [`ProxyMesh`]: a TCP proxy per directed node→node link, so faults
//! need no root. Remote backends (iptables over SSH, containers) implement
//! the same trait. Latency and packet loss are a separate seam,
//! [`LinkShaper`], since no backend can do both.

pub mod grudge;
pub mod iptables;
pub mod mesh;
pub mod proxy;

pub use grudge::{Grudge, PartitionShape};
pub use mesh::ProxyMesh;

/// Why a network fault could not be applied or lifted.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("network backend: {0}")]
    Backend(String),
    /// A host refused or failed a command (iptables over SSH or docker exec).
    #[error("network backend: {0}")]
    Host(#[source] crate::control::ControlError),
}

/// Cuts and heals internode links: the nemesis's partitions. Client↔node
/// traffic is never touched. Methods are synchronous and quick, so they can
/// run from a `Drop` (the teardown guard heals on every exit path).
pub trait Partitioner: Send + Sync {
    /// Makes `grudge` the set of cut links, replacing any earlier one.
    fn apply(&self, grudge: &Grudge) -> Result<(), NetError>;
    /// Cuts nothing any more: every link forwards again.
    fn heal(&self) -> Result<(), NetError>;
}

/// Degrades every internode link for the whole run, and lifts that at the
/// final heal. Each backend shapes only what it really can, set when it is
/// built: the proxy mesh adds latency ([`ProxyMesh::set_latency`]; it
/// carries TCP streams, where a dropped packet is only a retransmit), and
/// iptables drops packets at random ([`iptables::IptablesNet::set_loss`];
/// it cannot hold them). There is no method to ask either for the other's
/// shaping, and config validation refuses a test that would need it.
pub trait LinkShaper: Send + Sync {
    /// Every link at full speed again.
    fn clear(&self) -> Result<(), NetError>;
}

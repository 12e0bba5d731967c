//! Node lifecycle: the [`Db`] seam and its backends.
//!
//! A [`Db`] starts, kills, pauses, resumes and wipes replica processes; it
//! does not speak HTTP (readiness is checked through the node API by
//! [`crate::cluster::Cluster::wait_healthy`], identical for every backend). Methods are
//! synchronous so the teardown guard can call them from `Drop`. The local
//! backend is [`LocalDb`]; SSH hosts and docker containers share
//! [`remote::RemoteDb`].

pub mod binary;
pub mod local;
pub mod node_spec;
pub mod remote;
mod spawner;

pub use local::{LocalDb, LocalLayout};

use crate::node_id::NodeId;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where a node is in its lifecycle, as far as the backend knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatus {
    Running,
    /// Stopped with SIGSTOP; resumes with SIGCONT.
    Paused,
    /// Not running because the harness killed it (or never started it).
    Down,
    /// Exited on its own; the text says how (exit code or signal).
    Exited(String),
}

/// Why a lifecycle action failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot start node {node} ({bin}): {source}")]
    Spawn {
        node: NodeId,
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot signal node {node}: {reason}")]
    Signal { node: NodeId, reason: String },
    #[error("cannot wipe node {node}'s data: {source}")]
    Wipe {
        node: NodeId,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown node {0}")]
    UnknownNode(NodeId),
    #[error("the cluster has been torn down; node {0} will not be started")]
    TornDown(NodeId),
    #[error("{0}")]
    Setup(String),
    /// A host failed a set-up command.
    #[error(transparent)]
    Host(#[from] crate::control::ControlError),
}

/// Controls the replica processes of one cluster.
pub trait Db: Send + Sync {
    /// Every node of the cluster, in order.
    fn nodes(&self) -> &[NodeId];
    /// The node's client/admin HTTP address (never proxied).
    fn client_addr(&self, node: &NodeId) -> Option<SocketAddr>;
    /// Launches the node with its data dir as it is. Returns once the process
    /// exists; the caller waits for `/health`.
    fn start(&self, node: &NodeId) -> Result<(), DbError>;
    /// SIGKILL, no chance to flush: a crash.
    fn kill(&self, node: &NodeId) -> Result<(), DbError>;
    /// SIGSTOP.
    fn pause(&self, node: &NodeId) -> Result<(), DbError>;
    /// SIGCONT.
    fn resume(&self, node: &NodeId) -> Result<(), DbError>;
    /// Deletes the node's data (it must be down): total loss of one replica.
    fn wipe(&self, node: &NodeId) -> Result<(), DbError>;
    fn status(&self, node: &NodeId) -> NodeStatus;
    /// Where the node's log is, for error messages and the run store.
    fn log_path(&self, node: &NodeId) -> Option<PathBuf>;
    /// Resumes paused nodes, then kills every node and refuses later starts.
    fn teardown(&self) -> Result<(), DbError>;
}

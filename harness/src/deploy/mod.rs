//! Deploying a cluster for a run: one [`Backend`] per `[deploy]` target —
//! [`local`] processes, [`ssh`] hosts, [`docker`] containers — each turning
//! a test config into a [`Cluster`] whose nodes are ready but not started.
//!
//! The steps are the same for every backend, and so is their order, which
//! is what keeps bad input cheap: [`Backend::prepare`] does the checks that
//! need I/O but leave nothing behind (the node binary, local ports) before
//! the run directory exists; [`bring_up`] then builds the cluster, pushing
//! the undoing of each thing it sets up onto the cluster's cleanup stack
//! (so a failure halfway leaves nothing behind); [`start_all`] starts the
//! nodes once the caller holds the teardown guard. What needs no I/O at all
//! (a backend's allowed fault combinations) is refused earlier still, when
//! the config is validated ([`crate::config::deploy`]).
//!
//! Remote hosts, whether VMs or containers, share their wiring ([`remote`]):
//! host checks, upload, the iptables chain, faketime or admin clocks.

pub mod docker;
pub mod local;
pub mod remote;
pub mod ssh;

use crate::cluster::Cluster;
use crate::config::{DeployTarget, TestConfig};
use crate::db::DbError;
use crate::db::binary::{self, BinaryError};
use crate::db::local::PortError;
use crate::net::NetError;
use crate::node_id::NodeId;
use crate::store::RunDir;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long a node may take to answer `/health` at startup.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a cluster could not be deployed. One line each.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Binary(#[from] BinaryError),
    #[error(transparent)]
    Ports(#[from] PortError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Image(#[from] docker::image::ImageError),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// Setting up a backend's own resources failed (the text says which).
    #[error("{0}")]
    Setup(String),
    /// A host could not be reached or is not fit to run a node.
    #[error(transparent)]
    Host(#[from] crate::control::ControlError),
    /// A node did not come up; the text names it and its log.
    #[error("{0}")]
    Startup(String),
    #[error("deploy task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// One way of running the nodes.
pub trait Backend: Send {
    /// The checks that need I/O and leave nothing behind, made before the
    /// run directory exists: the node binary, and for the local backend its
    /// ports (reserved until the nodes start).
    fn prepare(&mut self) -> Result<(), DeployError>;

    /// Builds the cluster: nodes set up but not started. Blocking (SSH,
    /// docker); [`bring_up`] runs it off the async threads.
    fn bring_up(&mut self, run: &RunDir) -> Result<Cluster, DeployError>;
}

/// The backend for the config's `[deploy]` target.
pub fn backend(cfg: &TestConfig) -> Box<dyn Backend> {
    match &cfg.deploy.target {
        DeployTarget::Local => Box::new(local::LocalBackend::new(cfg.clone())),
        DeployTarget::Ssh(target) => Box::new(ssh::SshBackend::new(cfg.clone(), target.clone())),
        DeployTarget::Docker(target) => {
            Box::new(docker::DockerBackend::new(cfg.clone(), target.clone()))
        }
    }
}

/// Finds the node binary (the first check of every backend).
pub(crate) fn resolve_binary(cfg: &TestConfig) -> Result<PathBuf, DeployError> {
    Ok(binary::resolve(cfg.deploy.node_bin.as_deref())?)
}

/// The node binary a remote backend uploads: found by `prepare`, or on
/// first use when a caller skipped it.
#[derive(Debug, Default)]
pub(crate) struct NodeBinary(Option<PathBuf>);

impl NodeBinary {
    pub(crate) fn find(&mut self, cfg: &TestConfig) -> Result<(), DeployError> {
        self.0 = Some(resolve_binary(cfg)?);
        Ok(())
    }

    pub(crate) fn get(&mut self, cfg: &TestConfig) -> Result<PathBuf, DeployError> {
        match &self.0 {
            Some(bin) => Ok(bin.clone()),
            None => {
                let bin = resolve_binary(cfg)?;
                self.0 = Some(bin.clone());
                Ok(bin)
            }
        }
    }
}

/// Runs [`Backend::bring_up`] on a blocking thread.
pub async fn bring_up(
    mut backend: Box<dyn Backend>,
    run: &RunDir,
) -> Result<Arc<Cluster>, DeployError> {
    let run = run.clone();
    let cluster = tokio::task::spawn_blocking(move || backend.bring_up(&run)).await??;
    Ok(Arc::new(cluster))
}

/// Starts every node and waits for all of them to be healthy.
pub async fn start_all(cluster: &Cluster) -> Result<(), DeployError> {
    for node in cluster.nodes() {
        cluster.db.start(node)?;
    }
    for node in cluster.nodes() {
        cluster
            .wait_healthy(node, STARTUP_TIMEOUT)
            .await
            .map_err(|e| DeployError::Startup(with_log_tail(cluster, node, e.to_string())))?;
    }
    Ok(())
}

/// Appends the last line of the node's log, which usually names the problem
/// (the node's exit-2 message for a bad config).
fn with_log_tail(cluster: &Cluster, node: &NodeId, msg: String) -> String {
    let tail = cluster
        .db
        .log_path(node)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        });
    match tail {
        Some(t) => format!("{msg}: {}", t.trim()),
        None => msg,
    }
}

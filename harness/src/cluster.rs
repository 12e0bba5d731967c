//! [`Cluster`]: the backend seams of one deployed cluster ([`Db`],
//! [`Partitioner`] and [`LinkShaper`], [`Clock`]) plus an admin client per node, the backend's stack
//! of cleanup steps, and the operations that span them (start and wait for
//! health, heal everything, tear down).
//!
//! The nemesis, the final heal and the teardown guard all act through this
//! one type, so "heal everything" and "tear down" mean the same thing on
//! every path and for every backend.

use crate::client::NodeClient;
use crate::clock::Clock;
use crate::db::{Db, DbError, NodeStatus};
use crate::net::{LinkShaper, Partitioner};
use crate::node_id::NodeId;
use crate::teardown::CleanupStack;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Why a node did not come up.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// `log` is "; see PATH" when the backend keeps the node's log.
    #[error("node {node} exited during startup ({how}){log}")]
    Exited {
        node: NodeId,
        how: String,
        log: String,
    },
    #[error("node {node} did not answer /health within {timeout:?}{log}")]
    Unhealthy {
        node: NodeId,
        timeout: Duration,
        log: String,
    },
    #[error("start task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

pub struct Cluster {
    pub db: Arc<dyn Db>,
    /// Cuts and heals links (the nemesis's partitions).
    pub partitioner: Arc<dyn Partitioner>,
    /// The run's latency or packet loss, if the test asked for either.
    pub shaper: Option<Arc<dyn LinkShaper>>,
    pub clock: Arc<dyn Clock>,
    /// Admin/health client per node (short timeouts).
    pub admin: BTreeMap<NodeId, NodeClient>,
    /// What the backend set up, to be undone after the heal: nodes,
    /// firewall chains, containers (empty with `--leave-running`, which
    /// keeps them).
    pub cleanup: CleanupStack,
}

impl Cluster {
    pub fn nodes(&self) -> &[NodeId] {
        self.db.nodes()
    }

    /// Polls `/health` until the node answers 200, it exits on its own, or
    /// `timeout` passes. The error names the node and points at its log.
    pub async fn wait_healthy(&self, node: &NodeId, timeout: Duration) -> Result<(), StartError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let log = self
            .db
            .log_path(node)
            .map(|p| format!("; see {}", p.display()))
            .unwrap_or_default();
        let client = self
            .admin
            .get(node)
            .ok_or_else(|| StartError::Db(DbError::UnknownNode(node.clone())))?;
        loop {
            if let NodeStatus::Exited(how) = self.db.status(node) {
                return Err(StartError::Exited {
                    node: node.clone(),
                    how,
                    log,
                });
            }
            if client.healthy().await {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StartError::Unhealthy {
                    node: node.clone(),
                    timeout,
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `node` and waits for it to be healthy.
    pub async fn start(&self, node: &NodeId, timeout: Duration) -> Result<(), StartError> {
        let db = Arc::clone(&self.db);
        let n = node.clone();
        tokio::task::spawn_blocking(move || db.start(&n)).await??;
        self.wait_healthy(node, timeout).await
    }

    /// Heals the network, resumes paused nodes and resets every clock.
    /// Synchronous and best effort (a down node's clock cannot be reset and
    /// needs no reset: it starts at offset 0), so `Drop` can call it. Returns
    /// what could not be undone.
    pub fn heal_everything(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = self.partitioner.heal() {
            problems.push(e.to_string());
        }
        if let Some(shaper) = &self.shaper
            && let Err(e) = shaper.clear()
        {
            problems.push(e.to_string());
        }
        for node in self.nodes() {
            if self.db.status(node) == NodeStatus::Paused
                && let Err(e) = self.db.resume(node)
            {
                problems.push(e.to_string());
            }
        }
        for node in self.nodes() {
            if self.db.status(node) == NodeStatus::Running
                && let Err(e) = self.clock.set_offset(node, 0)
            {
                problems.push(e.to_string());
            }
        }
        problems
    }

    /// Heals every fault, then undoes the backend's setup, last step first
    /// (so no clock is reset on a node already stopped). Returns what could
    /// not be undone. Later calls find nothing left to undo but the heal.
    pub fn teardown(&self) -> Vec<String> {
        let mut problems = self.heal_everything();
        problems.extend(self.cleanup.unwind());
        problems
    }
}

/// Tears the cluster down when dropped — on a normal end, an error, a panic,
/// or a Ctrl-C/SIGTERM (the signal ends the run future, which drops the
/// guard) — or when [`TeardownGuard::finish`] is called.
pub struct TeardownGuard {
    cluster: Arc<Cluster>,
    done: bool,
}

impl TeardownGuard {
    pub fn new(cluster: Arc<Cluster>) -> TeardownGuard {
        TeardownGuard {
            cluster,
            done: false,
        }
    }

    /// Tears down now and reports what could not be undone.
    pub fn finish(mut self) -> Vec<String> {
        self.teardown()
    }

    fn teardown(&mut self) -> Vec<String> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        self.cluster.teardown()
    }
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        for p in self.teardown() {
            eprintln!("converge: teardown: {p}");
        }
    }
}

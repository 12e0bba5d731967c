//! Teardown as a type: [`TeardownGuard`] heals the network, resumes paused
//! nodes, resets clocks and stops every node when it is dropped — on a normal
//! end, an error, a panic, or a Ctrl-C/SIGTERM (the signal ends the run
//! future, which drops the guard). A cleanup call can be forgotten; a `Drop`
//! cannot.
//!
//! [`AbortOnDrop`] does the same for background tasks, so nothing keeps
//! injecting faults into a cluster that is being torn down.

use crate::cluster::Cluster;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub struct TeardownGuard {
    cluster: Arc<Cluster>,
    /// `--leave-running`: heal but keep the nodes up.
    leave_running: bool,
    done: bool,
}

impl TeardownGuard {
    pub fn new(cluster: Arc<Cluster>, leave_running: bool) -> TeardownGuard {
        TeardownGuard {
            cluster,
            leave_running,
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
        let mut problems = self.cluster.heal_everything();
        if !self.leave_running
            && let Err(e) = self.cluster.db.teardown()
        {
            problems.push(e.to_string());
        }
        problems
    }
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        for p in self.teardown() {
            eprintln!("converge: teardown: {p}");
        }
    }
}

/// A spawned task that is aborted when this handle is dropped.
pub struct AbortOnDrop<T>(Option<JoinHandle<T>>);

impl<T> AbortOnDrop<T> {
    pub fn new(handle: JoinHandle<T>) -> Self {
        Self(Some(handle))
    }

    /// Waits for the task to end by itself. If this wait is itself cancelled,
    /// the task is still aborted on drop.
    pub async fn join(&mut self) -> Option<Result<T, tokio::task::JoinError>> {
        let handle = self.0.as_mut()?;
        let result = handle.await;
        self.0 = None;
        Some(result)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

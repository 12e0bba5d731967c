//! Teardown as a type. Every backend pushes the undoing of what it set up
//! onto one [`CleanupStack`] as it goes (containers, nodes, firewall
//! chains); `Cluster::teardown` heals the faults, then unwinds the stack,
//! last step first, and `cluster::TeardownGuard` calls that when dropped.
//! A stack dropped halfway through a failed setup unwinds by itself. A
//! cleanup call can be forgotten; a `Drop` cannot.
//!
//! [`AbortOnDrop`] does the same for background tasks, so nothing keeps
//! injecting faults into a cluster that is being torn down.

use std::sync::Mutex;
use tokio::task::JoinHandle;

/// What a cleanup step can fail with: whatever the undone setup failed with.
pub type CleanupError = Box<dyn std::error::Error + Send + Sync>;

type Step = Box<dyn FnOnce() -> Result<(), CleanupError> + Send>;

/// Undo steps in setup order; unwound last first, each at most once.
#[derive(Default)]
pub struct CleanupStack {
    steps: Mutex<Vec<(String, Step)>>,
}

impl CleanupStack {
    pub fn new() -> CleanupStack {
        CleanupStack::default()
    }

    /// Adds the undoing of something just set up; `what` names it in the
    /// error line if undoing fails.
    pub fn push(
        &self,
        what: impl Into<String>,
        step: impl FnOnce() -> Result<(), CleanupError> + Send + 'static,
    ) {
        self.lock().push((what.into(), Box::new(step)));
    }

    /// Runs every step, last pushed first, and names what could not be
    /// undone. Later calls find nothing left to do.
    pub fn unwind(&self) -> Vec<String> {
        let steps = std::mem::take(&mut *self.lock());
        steps
            .into_iter()
            .rev()
            .filter_map(|(what, step)| step().err().map(|e| format!("{what}: {e}")))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Step)>> {
        // A step runs outside the lock, so a panic cannot leave it torn.
        self.steps.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for CleanupStack {
    fn drop(&mut self) {
        for p in self.unwind() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_stack_unwinds_last_first_once_and_names_failures() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let stack = CleanupStack::new();
        for name in ["network", "containers", "nodes"] {
            let order = Arc::clone(&order);
            stack.push(name, move || {
                order.lock().unwrap().push(name);
                if name == "containers" {
                    return Err("docker rm failed".into());
                }
                Ok(())
            });
        }
        assert_eq!(stack.unwind(), vec!["containers: docker rm failed"]);
        assert_eq!(
            *order.lock().unwrap(),
            vec!["nodes", "containers", "network"]
        );
        assert!(stack.unwind().is_empty());
    }

    #[test]
    fn a_dropped_stack_unwinds_by_itself() {
        let ran = Arc::new(Mutex::new(false));
        {
            let stack = CleanupStack::new();
            let ran = Arc::clone(&ran);
            stack.push("network", move || {
                *ran.lock().unwrap() = true;
                Ok(())
            });
        }
        assert!(*ran.lock().unwrap());
    }
}

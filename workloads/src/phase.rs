//! The phases of a test run, as the generator sees them.
//!
//! During [`Phase::Run`] clients draw ops from their streams; during
//! [`Phase::Quiesce`] they stop issuing ops (in-flight ones still complete)
//! while the nemesis heals and the cluster converges, so the final state is
//! compared against a history that no longer moves.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Run,
    Quiesce,
}

impl Phase {
    /// The phase at `elapsed` for a run phase lasting `run_for`.
    pub fn at(elapsed: Duration, run_for: Duration) -> Phase {
        if elapsed < run_for {
            Phase::Run
        } else {
            Phase::Quiesce
        }
    }

    /// Whether clients may start new ops in this phase.
    pub fn issues_ops(self) -> bool {
        self == Phase::Run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_then_quiesce() {
        let run = Duration::from_secs(10);
        assert_eq!(Phase::at(Duration::from_secs(3), run), Phase::Run);
        assert_eq!(Phase::at(run, run), Phase::Quiesce);
        assert!(Phase::Run.issues_ops() && !Phase::Quiesce.issues_ops());
    }
}

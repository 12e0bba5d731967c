//! [`FaultKind`]: the faults a run can inject, as named on the command line
//! (`--nemesis partition,clock,crash,pause,wipe,link` or `none`) and in the
//! history's `fault` field.
//!
//! It lives here, beside the history it is written into, so the harness's
//! nemesis and every reader of a history name faults with one type.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// Cut internode links by a partition shape.
    Partition,
    /// Skew or strobe node clocks.
    Clock,
    /// kill -9 nodes, restart them later with their data.
    Crash,
    /// SIGSTOP nodes, SIGCONT them later.
    Pause,
    /// Kill a node, delete its data, restart it empty with the same id.
    Wipe,
    /// Cut one link, both ways, for longer than `gc_grace` (once per run)
    /// while the rest of the cluster works: what a hint or a replica's view
    /// must not outlive.
    Link,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Partition,
        FaultKind::Clock,
        FaultKind::Crash,
        FaultKind::Pause,
        FaultKind::Wipe,
        FaultKind::Link,
    ];

    /// The name the command line and the history spell it with.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Clock => "clock",
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::Wipe => "wipe",
            FaultKind::Link => "link",
        }
    }

    /// Parses a comma-separated list; `none` (alone) means no faults.
    pub fn parse_list(s: &str) -> Result<Vec<FaultKind>, UnknownFault> {
        let s = s.trim();
        if s == "none" || s.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<FaultKind> = Vec::new();
        for part in s.split(',') {
            let kind: FaultKind = part.trim().parse()?;
            if !out.contains(&kind) {
                out.push(kind);
            }
        }
        Ok(out)
    }
}

/// A fault name that is not one of [`FaultKind::ALL`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown nemesis {0:?}; choose from partition, clock, crash, pause, wipe, link, or none")]
pub struct UnknownFault(pub String);

impl FromStr for FaultKind {
    type Err = UnknownFault;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownFault(s.to_string()))
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_none_means_empty() {
        assert_eq!(
            FaultKind::parse_list("partition, crash,partition").unwrap(),
            vec![FaultKind::Partition, FaultKind::Crash]
        );
        assert!(FaultKind::parse_list("none").unwrap().is_empty());
    }

    #[test]
    fn an_unknown_fault_is_named() {
        let e = FaultKind::parse_list("partition,meteor").unwrap_err();
        assert!(e.to_string().contains("\"meteor\""));
    }

    #[test]
    fn the_history_spells_each_kind_by_its_name() {
        for k in FaultKind::ALL {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
            assert_eq!(
                serde_json::from_str::<FaultKind>(&format!("\"{k}\"")).unwrap(),
                k
            );
        }
    }
}

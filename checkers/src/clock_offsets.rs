//! The clock offsets a clock fault set, read from its history `detail`.
//!
//! The nemesis records what it did in each fault's `detail`
//! (docs/history.md). For clock faults the one field readers need is
//! `offsets_ms`: node → offset for a bump, or the pair of offsets the nodes
//! flip between for a strobe. This is its one reading, so no reader has to
//! guess by key names; the harness's fault schedule writes it, and a test
//! there pins that what it writes reads back here.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a clock fault set, in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ClockOffsets {
    /// A bump: each listed node's clock jumped by its offset.
    PerNode(BTreeMap<String, f64>),
    /// A strobe: the listed nodes flipped between these two offsets.
    Strobe(f64, f64),
}

/// The part of a nemesis detail this module reads.
#[derive(Deserialize)]
struct ClockDetail {
    offsets_ms: ClockOffsets,
}

impl ClockOffsets {
    /// The offsets of a fault's detail; `None` for a fault that set none
    /// (every fault but a clock fault).
    pub fn of_detail(detail: &Value) -> Option<ClockOffsets> {
        ClockDetail::deserialize(detail).ok().map(|d| d.offsets_ms)
    }

    /// The largest offset in either direction; `None` when none was set.
    pub fn max_abs_ms(&self) -> Option<f64> {
        let all: Vec<f64> = match self {
            ClockOffsets::PerNode(by_node) => by_node.values().copied().collect(),
            ClockOffsets::Strobe(a, b) => vec![*a, *b],
        };
        all.into_iter().map(f64::abs).reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bumps_and_strobes_name_their_largest_offset_and_other_faults_none() {
        let bump = json!({"action": "clock-bump", "offsets_ms": {"n1": -4000, "n2": 1500}});
        let strobe = json!({"action": "clock-strobe", "nodes": ["n1"], "offsets_ms": [200, -900], "period": 100});
        let partition = json!({"action": "partition", "grudge": {"n1": ["n2"]}});
        let max = |v: &Value| ClockOffsets::of_detail(v).and_then(|o| o.max_abs_ms());
        assert_eq!(max(&bump), Some(4000.0));
        assert_eq!(max(&strobe), Some(900.0));
        assert_eq!(max(&partition), None);
        assert_eq!(max(&json!({"offsets_ms": {}})), None);
    }
}

//! [`FaultDetail`]: what one fault did, as the nemesis records it in the
//! history's `detail` (docs/history.md), and what readers need of it: the
//! nodes it took down ([`FaultDetail::downed_nodes`]) and the clock offsets
//! it set ([`FaultDetail::clock_offsets`]).
//!
//! The harness's fault schedule (`FaultAction`) converts itself into this
//! type and writes it; the checkers and the reports read it back, so no
//! reader guesses at JSON keys. A detail this crate does not recognise (a
//! history from an older or foreign writer, or a field it does not know) is
//! kept whole as [`FaultDetail::Other`], so every history still parses and
//! writes back as it was read.

use crate::node_id::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One fault's `detail`, tagged by its `action`.
///
/// The fields of each action are declared in alphabetical order, and must
/// stay so: the harness used to write details through a `serde_json::Value`,
/// whose objects sort their keys, and a detail must keep serializing to the
/// same bytes. Unknown fields are refused rather than dropped, so a detail
/// with one falls through to [`FaultDetail::Other`] and loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultDetail {
    /// Internode links cut. `grudge`: node → the nodes whose traffic it
    /// rejects (a node absent rejects nobody); `shape`: the partition
    /// shape's name (`isolate-one`, `halves`, `majorities-ring`, `bridge`,
    /// `one-way`; `link` for the `link` fault's one cut link), which
    /// computed the grudge.
    Partition {
        #[serde(deserialize_with = "grudge_as_written")]
        grudge: BTreeMap<NodeId, BTreeSet<NodeId>>,
        shape: String,
    },
    /// Each listed node's clock jumped by its offset (ms).
    ClockBump { offsets_ms: BTreeMap<NodeId, i64> },
    /// The listed nodes' clocks flipped between two offsets (ms) every
    /// `period` (ms).
    ClockStrobe {
        nodes: Vec<NodeId>,
        offsets_ms: (i64, i64),
        #[serde(rename = "period")]
        period_ms: u64,
    },
    /// The nodes were killed, and restarted with their data at the stop.
    Crash { nodes: Vec<NodeId> },
    /// The nodes were stopped (SIGSTOP), and resumed at the stop.
    Pause { nodes: Vec<NodeId> },
    /// The node was killed and its data deleted; it restarts empty.
    Wipe { node: NodeId },
    /// A detail none of the above reads exactly, kept as written.
    #[serde(untagged)]
    Other(serde_json::Value),
}

impl FaultDetail {
    /// The nodes the fault took down: a crash's or a pause's nodes, a
    /// wipe's node; none for any other fault.
    pub fn downed_nodes(&self) -> &[NodeId] {
        match self {
            FaultDetail::Crash { nodes } | FaultDetail::Pause { nodes } => nodes,
            FaultDetail::Wipe { node } => std::slice::from_ref(node),
            _ => &[],
        }
    }

    /// The clock offsets the fault set; `None` for a fault that set none
    /// (every fault but a clock fault). A detail kept as
    /// [`FaultDetail::Other`] is read by its `offsets_ms` field, which
    /// docs/history.md names for clock faults, so a history whose clock
    /// details lack the `action` tag, or carry fractional offsets, still
    /// shows its offsets.
    pub fn clock_offsets(&self) -> Option<ClockOffsets> {
        match self {
            FaultDetail::ClockBump { offsets_ms } => Some(ClockOffsets::PerNode(
                offsets_ms
                    .iter()
                    .map(|(n, &ms)| (n.clone(), ms as f64))
                    .collect(),
            )),
            FaultDetail::ClockStrobe {
                offsets_ms: (a, b), ..
            } => Some(ClockOffsets::Strobe(*a as f64, *b as f64)),
            FaultDetail::Other(v) => OffsetsField::deserialize(v).ok().map(|d| d.offsets_ms),
            _ => None,
        }
    }
}

/// A grudge whose rejected nodes are listed as a set writes them (sorted,
/// once each); any other listing is refused, so the detail is kept as
/// [`FaultDetail::Other`] and writes back as it was read.
fn grudge_as_written<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<NodeId, BTreeSet<NodeId>>, D::Error> {
    let listed = BTreeMap::<NodeId, Vec<NodeId>>::deserialize(d)?;
    listed
        .into_iter()
        .map(|(node, rejects)| {
            if rejects.windows(2).all(|w| w[0] < w[1]) {
                Ok((node, rejects.into_iter().collect()))
            } else {
                Err(serde::de::Error::custom(format!(
                    "{node}'s rejected nodes are not a sorted set"
                )))
            }
        })
        .collect()
}

/// What a clock fault set, in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ClockOffsets {
    /// A bump: each listed node's clock jumped by its offset.
    PerNode(BTreeMap<NodeId, f64>),
    /// A strobe: the listed nodes flipped between these two offsets.
    Strobe(f64, f64),
}

impl ClockOffsets {
    /// The largest offset in either direction; `None` when none was set.
    pub fn max_abs_ms(&self) -> Option<f64> {
        let all: Vec<f64> = match self {
            ClockOffsets::PerNode(by_node) => by_node.values().copied().collect(),
            ClockOffsets::Strobe(a, b) => vec![*a, *b],
        };
        all.into_iter().map(f64::abs).reduce(f64::max)
    }
}

/// The one field of an unrecognised detail [`FaultDetail::clock_offsets`]
/// reads.
#[derive(Deserialize)]
struct OffsetsField {
    offsets_ms: ClockOffsets,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn nodes(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|&n| NodeId::from(n)).collect()
    }

    /// Every action as the harness writes it (the harness pins the same
    /// bytes from its side, in the nemesis runner's tests).
    fn written() -> Vec<(FaultDetail, &'static str)> {
        vec![
            (
                FaultDetail::Partition {
                    grudge: [
                        (NodeId::nth(0), nodes(&["n2", "n3"]).into_iter().collect()),
                        (NodeId::nth(1), nodes(&["n1"]).into_iter().collect()),
                    ]
                    .into(),
                    shape: "isolate-one".into(),
                },
                r#"{"action":"partition","grudge":{"n1":["n2","n3"],"n2":["n1"]},"shape":"isolate-one"}"#,
            ),
            (
                FaultDetail::ClockBump {
                    offsets_ms: [(NodeId::nth(0), -4000), (NodeId::nth(1), 1500)].into(),
                },
                r#"{"action":"clock-bump","offsets_ms":{"n1":-4000,"n2":1500}}"#,
            ),
            (
                FaultDetail::ClockStrobe {
                    nodes: nodes(&["n1", "n2"]),
                    offsets_ms: (200, -900),
                    period_ms: 100,
                },
                r#"{"action":"clock-strobe","nodes":["n1","n2"],"offsets_ms":[200,-900],"period":100}"#,
            ),
            (
                FaultDetail::Crash {
                    nodes: nodes(&["n2", "n3"]),
                },
                r#"{"action":"crash","nodes":["n2","n3"]}"#,
            ),
            (
                FaultDetail::Pause {
                    nodes: nodes(&["n1"]),
                },
                r#"{"action":"pause","nodes":["n1"]}"#,
            ),
            (
                FaultDetail::Wipe {
                    node: NodeId::nth(2),
                },
                r#"{"action":"wipe","node":"n3"}"#,
            ),
        ]
    }

    #[test]
    fn every_action_writes_sorted_keys_and_reads_back_as_itself() {
        for (detail, text) in written() {
            assert_eq!(serde_json::to_string(&detail).unwrap(), text);
            // The bytes a serde_json::Value (sorted keys) writes, as the
            // harness's details were written before they were typed.
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(value.to_string(), text);
            assert_eq!(
                serde_json::from_str::<FaultDetail>(text).unwrap(),
                detail,
                "{text}"
            );
        }
    }

    #[test]
    fn details_it_does_not_read_exactly_are_kept_whole() {
        for text in [
            // Older histories and foreign writers.
            r#"{"cut":[["n1","n2"]]}"#,
            r#"{"offsets_ms":{"n1":-4000}}"#,
            r#""isolated n1""#,
            r#"null"#,
            // A known action with a field it does not know, or of another type.
            r#"{"action":"crash","node":"n1","nodes":["n1"]}"#,
            r#"{"action":"clock-bump","offsets_ms":{"n1":1.5}}"#,
            r#"{"action":"wipe"}"#,
            r#"{"action":"partition","grudge":{"n1":["n3","n2"]},"shape":"halves"}"#,
            r#"{"action":"partition","grudge":{"n1":["n2","n2"]},"shape":"halves"}"#,
            // An action it does not know.
            r#"{"action":"meteor","nodes":["n1"]}"#,
        ] {
            let d: FaultDetail = serde_json::from_str(text).unwrap();
            assert!(matches!(d, FaultDetail::Other(_)), "{text} read as {d:?}");
            assert_eq!(serde_json::to_string(&d).unwrap(), text);
        }
    }

    #[test]
    fn down_faults_name_their_nodes_and_others_none() {
        let downed = |text: &str| {
            serde_json::from_str::<FaultDetail>(text)
                .unwrap()
                .downed_nodes()
                .to_vec()
        };
        assert_eq!(downed(r#"{"action":"wipe","node":"n3"}"#), ["n3"]);
        assert_eq!(
            downed(r#"{"action":"crash","nodes":["n2","n3"]}"#),
            ["n2", "n3"]
        );
        assert_eq!(downed(r#"{"action":"pause","nodes":["n1"]}"#), ["n1"]);
        assert!(downed(r#"{"action":"clock-bump","offsets_ms":{"n1":5}}"#).is_empty());
        assert!(downed(r#"{"node":"n1"}"#).is_empty());
    }

    #[test]
    fn bumps_and_strobes_name_their_largest_offset_and_other_faults_none() {
        let bump = json!({"action": "clock-bump", "offsets_ms": {"n1": -4000, "n2": 1500}});
        let strobe = json!({"action": "clock-strobe", "nodes": ["n1"], "offsets_ms": [200, -900], "period": 100});
        let partition = json!({"action": "partition", "grudge": {"n1": ["n2"]}, "shape": "halves"});
        let untagged = json!({"offsets_ms": {"n1": -2500.5}});
        let max = |v: Value| {
            serde_json::from_value::<FaultDetail>(v)
                .unwrap()
                .clock_offsets()
                .and_then(|o| o.max_abs_ms())
        };
        assert_eq!(max(bump), Some(4000.0));
        assert_eq!(max(strobe), Some(900.0));
        assert_eq!(max(partition), None);
        assert_eq!(max(untagged), Some(2500.5));
        assert_eq!(max(json!({"offsets_ms": {}})), None);
    }
}

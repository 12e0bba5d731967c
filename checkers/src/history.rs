//! The history and final-state file formats (docs/history.md).
//!
//! These types are the contract between the harness, which writes a history as
//! the test runs, and the checkers, which read it afterwards. They live here,
//! downstream of the harness, because dependencies point one way:
//! harness → checkers, never back.

use crate::fault::FaultKind;
use crate::fault_detail::FaultDetail;
use crate::node_id::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// Who performed an event: a client process (numbered from 0) or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u32),
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(n) => s.serialize_u32(*n),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u32),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(Process::Client(n)),
            Raw::Str(s) if s == "nemesis" => Ok(Process::Nemesis),
            Raw::Str(s) => Err(serde::de::Error::custom(format!(
                "process must be a number or \"nemesis\", got {s:?}"
            ))),
        }
    }
}

/// What an event says about its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// The operation is about to be sent.
    Invoke,
    /// The operation completed and took effect.
    Ok,
    /// The operation surely did not take effect (e.g. connection refused).
    Fail,
    /// Indeterminate: it may or may not have taken effect (timeout, 503).
    /// Nemesis events are always `info`.
    Info,
}

/// The operation's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    Read,
    Write,
    Delete,
    /// Nemesis: a fault begins.
    Start,
    /// Nemesis: a fault ends (healed, clock reset, node restarted, resumed).
    Stop,
}

impl Function {
    /// The name the history spells it with: `read`, `write`, `delete`,
    /// `start`, `stop`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Read => "read",
            Function::Write => "write",
            Function::Delete => "delete",
            Function::Start => "start",
            Function::Stop => "stop",
        }
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the file, from 0, strictly increasing.
    pub index: u64,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub f: Function,
    /// Nanoseconds since the test started, on the harness's monotonic clock.
    pub time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value a write writes (on its invoke and its completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values (siblings) a read returned; empty when absent. Only on `ok` reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Causal ops: the values the context carried by this write or delete observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Vec<String>>,
    /// The node the client contacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// Why an op failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Nemesis: the kind of fault (`partition`, `clock`, `crash`, `pause`, `wipe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
    /// Nemesis: what exactly was done (nodes, grudge, offsets), tagged by
    /// its `action`; a detail it does not recognise is kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<FaultDetail>,
}

/// One line of `final-state.jsonl`: either the summary or one replica's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FinalLine {
    /// Written once, first: how the convergence wait ended.
    Summary(FinalSummary),
    /// One key as one replica stores it (a line of that node's `/admin/dump`).
    Entry(ReplicaEntry),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FinalSummary {
    /// Every node whose dump follows (a node with no entries still counts).
    pub nodes: Vec<NodeId>,
    /// Whether all replicas agreed before the convergence timeout.
    pub converged: bool,
    /// When the final heal finished (ns since test start).
    pub healed_at: u64,
    /// When agreement was first observed (ns since test start), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged_at: Option<u64>,
    /// Replicas per key (the cluster's rf), when the writer knew it. With more
    /// nodes than rf, a node holding nothing of a key is simply not one of its
    /// replicas, so only the nodes holding it must agree, and at least rf must.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rf: Option<u32>,
    /// How many entry lines follow the summary, so a reader can tell a
    /// complete file from a truncated one. Absent in files written before
    /// it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Nodes whose dump the harness could not get: their entries are not in
    /// the file, so the final state does not say what the cluster holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<NodeId>,
    /// Hints each node still held for replay when the wait ended, by node
    /// (nodes holding none are omitted). The wait ends early only once the
    /// replicas agree *and* no hint is waiting, because a replayed hint can
    /// still change the state (bring back a deleted value); a non-empty map
    /// means the backlog did not drain before the timeout.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hints_waiting: BTreeMap<NodeId, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaEntry {
    pub node: NodeId,
    pub key: String,
    /// Sibling values; empty for a tombstone.
    pub values: Vec<String>,
    pub tombstone: bool,
    /// The node's version, opaque to the checkers (they compare values).
    #[serde(default)]
    pub version: serde_json::Value,
}

/// Errors reading a history or final state.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("reading {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} line {line}: {source}")]
    Parse {
        what: &'static str,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// Reads every event of a history. A torn last line (the harness was killed
/// mid-write) is skipped, since a partial history must stay checkable.
pub fn read_history(r: impl BufRead) -> Result<Vec<Event>, HistoryError> {
    read_jsonl(r, "history")
}

/// Reads every line of a final-state file.
pub fn read_final_state(r: impl BufRead) -> Result<Vec<FinalLine>, HistoryError> {
    read_jsonl(r, "final state")
}

fn read_jsonl<T: serde::de::DeserializeOwned>(
    r: impl BufRead,
    what: &'static str,
) -> Result<Vec<T>, HistoryError> {
    let mut out = Vec::new();
    let mut lines = r.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let line = line.map_err(|source| HistoryError::Io { what, source })?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(v) => out.push(v),
            // Only the last line may be torn.
            Err(_) if lines.peek().is_none() && !line.ends_with('}') => break,
            Err(source) => {
                return Err(HistoryError::Parse {
                    what,
                    line: n + 1,
                    source,
                });
            }
        }
    }
    Ok(out)
}

/// The text every `invoke` line of a history contains, exactly as
/// [`write_line`] writes it: lets a reader count a history's ops without
/// parsing it (the store index does, for small runs).
pub const INVOKE_MARK: &str = "\"type\":\"invoke\"";

/// Writes one JSON value as a line.
pub fn write_line<T: Serialize>(w: &mut impl Write, v: &T) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_nemesis_events_round_trip() {
        let text = r#"{"index":0,"process":3,"type":"invoke","f":"write","time":10,"key":"k1","value":"3-0","node":"n1"}
{"index":1,"process":"nemesis","type":"info","f":"start","time":11,"fault":"partition","detail":{"cut":[["n1","n2"]]}}
{"index":2,"process":3,"type":"ok","f":"write","time":12,"key":"k1","value":"3-0","node":"n1"}
"#;
        let events = read_history(text.as_bytes()).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].process, Process::Client(3));
        assert_eq!(events[1].process, Process::Nemesis);
        let mut out = Vec::new();
        for e in &events {
            write_line(&mut out, e).unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }

    #[test]
    fn every_written_invoke_and_only_an_invoke_carries_the_invoke_mark() {
        let text = r#"{"index":0,"process":3,"type":"invoke","f":"write","time":10,"key":"k1","value":"3-0","node":"n1"}
{"index":1,"process":3,"type":"ok","f":"write","time":12,"key":"k1","value":"3-0","node":"n1"}
{"index":2,"process":4,"type":"invoke","f":"read","time":13,"key":"k1","node":"n2"}
"#;
        let mut out = Vec::new();
        for e in read_history(text.as_bytes()).unwrap() {
            write_line(&mut out, &e).unwrap();
        }
        let lines: Vec<bool> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| l.contains(INVOKE_MARK))
            .collect();
        assert_eq!(lines, [true, false, true]);
    }

    #[test]
    fn torn_last_line_is_skipped_but_torn_middle_line_is_an_error() {
        let torn_end = "{\"index\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":1,\"key\":\"a\"}\n{\"index\":1,\"pro";
        assert_eq!(read_history(torn_end.as_bytes()).unwrap().len(), 1);
        let torn_mid = "{\"index\":1,\"pro\n{\"index\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n";
        assert!(matches!(
            read_history(torn_mid.as_bytes()),
            Err(HistoryError::Parse { line: 1, .. })
        ));
    }

    #[test]
    fn final_state_lines_are_tagged() {
        let text = r#"{"kind":"summary","nodes":["n1"],"converged":true,"healed_at":5,"converged_at":9}
{"kind":"entry","node":"n1","key":"k","values":["1-2"],"tombstone":false,"version":{"hlc":7}}
"#;
        let lines = read_final_state(text.as_bytes()).unwrap();
        assert!(matches!(&lines[0], FinalLine::Summary(s) if s.converged));
        assert!(matches!(&lines[1], FinalLine::Entry(e) if e.values == ["1-2"]));
    }
}

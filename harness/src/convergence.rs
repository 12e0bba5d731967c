//! The convergence wait: after the final heal, with clients stopped, poll
//! every node's `/admin/dump` and hint backlog until the replicas agree and
//! no hint is waiting, or the timeout passes, then save the final state
//! (docs/history.md, final-state.jsonl).
//!
//! No client reads happen in this phase, so read repair cannot mask a
//! broken anti-entropy: only background repair can make replicas agree.
//! The dump is replica-local and never triggers repair itself.
//!
//! Agreement alone does not end the wait: anti-entropy can make replicas
//! agree a second after the heal while hinted handoff still holds writes
//! from before it, and a replayed stale hint can bring a deleted value back
//! (as an operator drains hints before trusting a repair, so does the
//! harness). The backlog is the node's `converge_hints_backlog` gauge; a
//! node that does not export it, or has no `/metrics` at all, holds none.

use crate::client::{ClientError, NodeClient};
use crate::cluster::Cluster;
use crate::metrics::parse_prometheus;
use crate::node_id::NodeId;
use checkers::history::{FinalLine, FinalSummary, ReplicaEntry, write_line};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// How often the dumps are polled.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Every replica's entries from one round of dumps.
pub type Snapshot = BTreeMap<NodeId, Vec<ReplicaEntry>>;

/// A dump line without a key: the node broke docs/node-api.md.
#[derive(Debug, thiserror::Error)]
#[error("{0}'s dump has a line without a key")]
struct KeylessLine(NodeId);

/// Parses one node's dump lines into entries.
fn entries(node: &NodeId, dump: Vec<serde_json::Value>) -> Result<Vec<ReplicaEntry>, KeylessLine> {
    dump.into_iter()
        .map(|line| {
            let key = line["key"]
                .as_str()
                .ok_or_else(|| KeylessLine(node.clone()))?;
            let values = line["values"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            Ok(ReplicaEntry {
                node: node.clone(),
                key: key.to_string(),
                values,
                tombstone: line["tombstone"].as_bool().unwrap_or(false),
                version: line.get("version").cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// Whether replicas agree: for every key, every node holding it live holds
/// the same sibling set, no node holds a tombstone or nothing where another
/// holds a value unless the value holders number at least `rf` (nodes that
/// are not replicas of a key hold nothing of it, and the harness does not
/// know the ring), and tombstones count as absent.
pub fn agree(snapshot: &Snapshot, rf: usize) -> bool {
    let mut live: BTreeMap<&str, Vec<Vec<&str>>> = BTreeMap::new();
    let mut dead: BTreeMap<&str, usize> = BTreeMap::new();
    for entries in snapshot.values() {
        for e in entries {
            if e.tombstone || e.values.is_empty() {
                *dead.entry(&e.key).or_default() += 1;
            } else {
                let mut vs: Vec<&str> = e.values.iter().map(String::as_str).collect();
                vs.sort_unstable();
                live.entry(&e.key).or_default().push(vs);
            }
        }
    }
    let needed = rf.min(snapshot.len());
    live.iter().all(|(key, copies)| {
        copies.windows(2).all(|w| w[0] == w[1]) && copies.len() >= needed && !dead.contains_key(key)
    })
}

/// One round of polling.
struct Round {
    /// Every answering node's entries.
    snapshot: Snapshot,
    /// Nodes that did not answer (or sent a dump that does not parse).
    missing: Vec<NodeId>,
    /// Hints each node holds for replay; `None` where its `/metrics` did
    /// not answer this round.
    hints: BTreeMap<NodeId, Option<u64>>,
}

impl Round {
    /// Whether every node is known to hold no hint.
    fn drained(&self) -> bool {
        self.hints.values().all(|h| *h == Some(0))
    }

    /// The nodes still holding hints, and how many.
    fn hints_waiting(&self) -> BTreeMap<NodeId, u64> {
        self.hints
            .iter()
            .filter_map(|(n, h)| h.filter(|&h| h > 0).map(|h| (n.clone(), h)))
            .collect()
    }
}

/// The hints a node holds. An HTTP error status means the node has no
/// `/metrics` (optional in docs/node-api.md), so nothing to drain; a failed
/// request (timeout, refused) leaves it unknown until a later round.
async fn hints_backlog(client: &NodeClient) -> Option<u64> {
    match client.metrics().await {
        Ok(text) => Some(crate::metrics::hints_backlog(&parse_prometheus(&text))),
        Err(ClientError::Status { .. }) => Some(0),
        Err(_) => None,
    }
}

/// Every backlog first, then every dump: a hint is deleted only once its
/// target has merged it, so backlogs all read 0 before the first dump mean
/// every dump holds what the hints carried. (Read after a node's dump, a
/// holder's backlog could reach 0 by a replay into a target already
/// dumped.)
async fn poll(cluster: &Cluster) -> Round {
    let mut round = Round {
        snapshot: Snapshot::new(),
        missing: Vec::new(),
        hints: BTreeMap::new(),
    };
    for (node, client) in &cluster.admin {
        round
            .hints
            .insert(node.clone(), hints_backlog(client).await);
    }
    for (node, client) in &cluster.admin {
        match client.dump().await.ok().and_then(|d| entries(node, d).ok()) {
            Some(e) => {
                round.snapshot.insert(node.clone(), e);
            }
            None => round.missing.push(node.clone()),
        }
    }
    round
}

/// How the wait ended.
pub struct Convergence {
    pub summary: FinalSummary,
    pub snapshot: Snapshot,
}

/// Polls until the replicas agree with no hint waiting, or `timeout`.
/// `healed_at` and the returned times are on the history's clock (`now`
/// gives it).
///
/// The final state is the newest round in which every node answered. Only
/// if no round was complete does it fall back to the newest partial one,
/// naming the nodes whose dump is missing, so the checkers say `unknown`
/// instead of reading an absent dump as "this replica lost everything".
///
/// `converged` says the final state's replicas agree, and `converged_at`
/// when that agreement was first seen (it held in every complete round
/// since), so a hint backlog that drains after anti-entropy has repaired
/// does not count towards the time to converge. Hints still waiting at the
/// timeout are named per node (`hints_waiting`).
pub async fn wait(
    cluster: &Cluster,
    rf: usize,
    timeout: Duration,
    healed_at: u64,
    now: impl Fn() -> u64,
) -> Convergence {
    let deadline = Instant::now() + timeout;
    let mut complete: Option<Round> = None;
    let mut partial: Option<Round> = None;
    let mut agreed_since = None;
    loop {
        let round = poll(cluster).await;
        if round.missing.is_empty() {
            if agree(&round.snapshot, rf) {
                agreed_since.get_or_insert_with(&now);
            } else {
                agreed_since = None;
            }
            let done = agreed_since.is_some() && round.drained();
            complete = Some(round);
            if done {
                break;
            }
        } else {
            partial = Some(round);
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    // A complete round names no missing node.
    let (snapshot, missing, hints_waiting) = match complete.or(partial) {
        Some(r) => {
            let waiting = r.hints_waiting();
            (r.snapshot, r.missing, waiting)
        }
        None => (Snapshot::new(), cluster.nodes().to_vec(), BTreeMap::new()),
    };
    Convergence {
        summary: FinalSummary {
            nodes: cluster.nodes().to_vec(),
            converged: agreed_since.is_some(),
            healed_at,
            converged_at: agreed_since,
            rf: Some(rf as u32),
            entries: None,
            missing,
            hints_waiting,
        },
        snapshot,
    }
}

/// Writes final-state.jsonl: the summary (announcing how many entries
/// follow), then every entry by key and node. It is written to a temporary
/// file, synced, and renamed into place, so a harness killed while saving
/// leaves either no final state or a whole one, never a torn file that
/// reads as complete.
pub fn save(path: &Path, c: &Convergence) -> std::io::Result<()> {
    let mut all: Vec<&ReplicaEntry> = c.snapshot.values().flatten().collect();
    all.sort_by(|a, b| (&a.key, &a.node).cmp(&(&b.key, &b.node)));
    let summary = FinalSummary {
        entries: Some(all.len() as u64),
        ..c.summary.clone()
    };
    let tmp = path.with_extension("jsonl.partial");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    write_line(&mut out, &FinalLine::Summary(summary))?;
    for e in all {
        write_line(&mut out, &FinalLine::Entry(e.clone()))?;
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    drop(out);
    std::fs::rename(&tmp, path)?;
    // The rename is durable once the directory entry is.
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(node: &str, key: &str, values: &[&str], tombstone: bool) -> ReplicaEntry {
        ReplicaEntry {
            node: node.into(),
            key: key.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            tombstone,
            version: serde_json::Value::Null,
        }
    }

    fn snap(entries: Vec<ReplicaEntry>) -> Snapshot {
        let mut s = Snapshot::new();
        for n in NodeId::cluster(3) {
            s.insert(n, Vec::new());
        }
        for e in entries {
            s.entry(e.node.clone()).or_default().push(e);
        }
        s
    }

    #[test]
    fn equal_copies_on_rf_replicas_agree_in_any_sibling_order() {
        let s = snap(vec![
            entry("n1", "k", &["a", "b"], false),
            entry("n2", "k", &["b", "a"], false),
            entry("n3", "k", &["a", "b"], false),
        ]);
        assert!(agree(&s, 3));
    }

    #[test]
    fn differing_values_or_too_few_copies_disagree() {
        let s = snap(vec![
            entry("n1", "k", &["a"], false),
            entry("n2", "k", &["b"], false),
        ]);
        assert!(!agree(&s, 2));
        let s = snap(vec![
            entry("n1", "k", &["a"], false),
            entry("n2", "k", &["a"], false),
        ]);
        assert!(!agree(&s, 3));
        assert!(agree(&s, 2));
    }

    #[test]
    fn tombstones_count_as_absent() {
        let s = snap(vec![
            entry("n1", "k", &[], true),
            entry("n2", "k", &[], true),
        ]);
        assert!(agree(&s, 3));
        let s = snap(vec![
            entry("n1", "k", &["a"], false),
            entry("n2", "k", &["a"], false),
            entry("n3", "k", &[], true),
        ]);
        assert!(!agree(&s, 2));
    }

    /// The summary this module writes makes the convergence checker judge
    /// only a key's holders when there are more nodes than rf.
    #[test]
    fn the_checker_accepts_rf_copies_on_five_nodes_and_flags_a_missing_copy() {
        let verdict = |entries: Vec<ReplicaEntry>| {
            let mut lines = vec![FinalLine::Summary(FinalSummary {
                nodes: NodeId::cluster(5),
                converged: true,
                healed_at: 0,
                converged_at: Some(1),
                rf: Some(3),
                ..FinalSummary::default()
            })];
            lines.extend(entries.into_iter().map(FinalLine::Entry));
            let results = checkers::check_all(&[], &lines, &checkers::CheckConfig::default());
            results.check("convergence").map(|c| c.valid)
        };
        let three = vec![
            entry("n1", "k", &["a"], false),
            entry("n2", "k", &["a"], false),
            entry("n4", "k", &["a"], false),
        ];
        assert_eq!(verdict(three.clone()), Some(checkers::Validity::True));
        assert_eq!(
            verdict(three[..2].to_vec()),
            Some(checkers::Validity::False)
        );
    }

    #[test]
    fn the_final_state_is_renamed_into_place_whole_with_its_entry_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("final-state.jsonl");
        // A torn file from an earlier, killed save is replaced, not appended to.
        std::fs::write(&path, "{\"kind\":\"summ").unwrap();
        let c = Convergence {
            summary: FinalSummary {
                nodes: vec!["n1".into(), "n2".into(), "n3".into()],
                converged: false,
                missing: vec!["n3".into()],
                ..FinalSummary::default()
            },
            snapshot: snap(vec![
                entry("n1", "k", &["a"], false),
                entry("n2", "k", &["a"], false),
            ]),
        };
        save(&path, &c).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["final-state.jsonl"], "no temporary file is left");
        let lines =
            checkers::history::read_final_state(std::fs::read(&path).unwrap().as_slice()).unwrap();
        assert_eq!(lines.len(), 3);
        let FinalLine::Summary(s) = &lines[0] else {
            panic!("the summary comes first")
        };
        assert_eq!(s.entries, Some(2));
        assert_eq!(s.missing, ["n3"]);
        // The checkers refuse to judge writes by it.
        let results = checkers::check_all(&[], &lines, &checkers::CheckConfig::default());
        assert_eq!(
            results.check("lost-updates").map(|c| c.valid),
            Some(checkers::Validity::Unknown)
        );
    }
}

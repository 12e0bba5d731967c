//! Executes a fault schedule against a [`Cluster`] and records every fault's
//! start and stop in the history.
//!
//! The nemesis only knows the seams (`Db`, `Partitioner`, `Clock`), never the backend.
//! Blocking backend calls run on tokio's blocking pool so a slow one (a
//! clock reset against a paused node) cannot stall the clients.

use super::schedule::{FaultAction, PlannedFault};
use crate::cluster::Cluster;
use crate::db::NodeStatus;
use crate::history_writer::HistoryWriter;
use crate::net::Grudge;
use crate::node_id::NodeId;
use checkers::history::{Event, EventType, Function, Process};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a restarted node may take to answer `/health`.
const RESTART_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a fault could not be started or stopped: the backend's own error,
/// recorded as the nemesis event's `error` text.
#[derive(Debug, thiserror::Error)]
enum FaultError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    #[error(transparent)]
    Clock(#[from] crate::clock::ClockError),
    #[error(transparent)]
    Start(#[from] crate::cluster::StartError),
    #[error("nemesis task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A fault in effect and its helper task (the clock strobe).
struct Active {
    fault: PlannedFault,
    strobe: Option<JoinHandle<()>>,
}

/// One step of the schedule: fault `usize` starts or stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    // Stops sort first, so a fault ending when another starts is lifted first.
    Stop(usize),
    Start(usize),
}

pub struct Nemesis {
    cluster: Arc<Cluster>,
    history: Arc<HistoryWriter>,
    /// Faults in effect by schedule position. A std Mutex: only inserted
    /// into and taken from, never held across an await.
    active: Mutex<BTreeMap<usize, Active>>,
    /// Problems met while injecting or lifting faults (shown at the end).
    problems: Mutex<Vec<String>>,
}

impl Nemesis {
    pub fn new(cluster: Arc<Cluster>, history: Arc<HistoryWriter>) -> Arc<Nemesis> {
        Arc::new(Nemesis {
            cluster,
            history,
            active: Mutex::new(BTreeMap::new()),
            problems: Mutex::new(Vec::new()),
        })
    }

    fn active(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, Active>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The kinds of the faults in effect, for the progress line.
    pub fn active_summary(&self) -> String {
        let kinds: Vec<String> = self
            .active()
            .values()
            .map(|a| a.fault.action.kind().to_string())
            .collect();
        if kinds.is_empty() {
            "none".into()
        } else {
            kinds.join("+")
        }
    }

    pub fn problems(&self) -> Vec<String> {
        self.problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn problem(&self, p: String) {
        tracing::warn!("{p}");
        self.problems
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(p);
    }

    /// Runs the schedule; `test_start` is the history's time zero.
    pub async fn run(self: Arc<Self>, plan: Vec<PlannedFault>, test_start: Instant) {
        let mut steps: Vec<(Duration, Step)> = Vec::new();
        for (i, f) in plan.iter().enumerate() {
            steps.push((f.start, Step::Start(i)));
            steps.push((f.stop, Step::Stop(i)));
        }
        steps.sort();
        for (at, step) in steps {
            tokio::time::sleep_until(test_start + at).await;
            match step {
                Step::Start(i) => self.start_fault(i, plan[i].clone()).await,
                Step::Stop(i) => self.stop_fault(i).await,
            }
        }
    }

    fn record(&self, f: Function, action: &FaultAction, error: Option<String>) {
        self.history
            .record(nemesis_event(f, action, self.history.now(), error));
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Cluster) -> Result<T, FaultError> + Send + 'static,
    ) -> Result<T, FaultError> {
        let cluster = Arc::clone(&self.cluster);
        tokio::task::spawn_blocking(move || f(&cluster)).await?
    }

    async fn start_fault(&self, id: usize, fault: PlannedFault) {
        let action = fault.action.clone();
        let mut strobe = None;
        let result = match &action {
            FaultAction::Partition { grudge, .. } | FaultAction::LinkCut { grudge } => {
                let g = self.cuts_in_effect().union(grudge);
                self.blocking(move |c| Ok(c.partitioner.apply(&g)?)).await
            }
            FaultAction::ClockBump { offsets_ms } => {
                let offsets = offsets_ms.clone();
                self.blocking(move |c| {
                    for (node, off) in &offsets {
                        c.clock.set_offset(node, *off)?;
                    }
                    Ok(())
                })
                .await
            }
            FaultAction::ClockStrobe {
                nodes,
                offsets_ms,
                period,
            } => {
                strobe = Some(self.spawn_strobe(nodes.clone(), *offsets_ms, *period));
                Ok(())
            }
            FaultAction::Crash { nodes } => self.each(nodes, |c, n| c.db.kill(n)).await,
            FaultAction::Pause { nodes } => self.each(nodes, |c, n| c.db.pause(n)).await,
            FaultAction::Wipe { node } => {
                let nodes = vec![node.clone()];
                self.each(&nodes, |c, n| c.db.kill(n).and_then(|()| c.db.wipe(n)))
                    .await
            }
        };
        if let Err(e) = &result {
            self.problem(format!("starting {} fault: {e}", action.kind()));
        }
        self.record(
            Function::Start,
            &action,
            result.err().map(|e| e.to_string()),
        );
        self.active().insert(id, Active { fault, strobe });
    }

    /// The links the faults in effect cut ([`cut_links`]).
    fn cuts_in_effect(&self) -> Grudge {
        cut_links(self.active().values().map(|a| &a.fault.action))
    }

    async fn each(
        &self,
        nodes: &[NodeId],
        f: fn(&Cluster, &NodeId) -> Result<(), crate::db::DbError>,
    ) -> Result<(), FaultError> {
        let nodes = nodes.to_vec();
        self.blocking(move |c| {
            for n in &nodes {
                f(c, n)?;
            }
            Ok(())
        })
        .await
    }

    fn spawn_strobe(
        &self,
        nodes: Vec<NodeId>,
        offsets: (i64, i64),
        period: Duration,
    ) -> JoinHandle<()> {
        let cluster = Arc::clone(&self.cluster);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            let mut flip = false;
            loop {
                tick.tick().await;
                let offset = if flip { offsets.1 } else { offsets.0 };
                flip = !flip;
                let c = Arc::clone(&cluster);
                let nodes = nodes.clone();
                // Errors (a node mid-restart) just skip one flip.
                let _ = tokio::task::spawn_blocking(move || {
                    for n in &nodes {
                        let _ = c.clock.set_offset(n, offset);
                    }
                })
                .await;
            }
        })
    }

    /// Lifts every fault in effect and records their stops.
    pub async fn stop_all(&self) {
        let ids: Vec<usize> = self.active().keys().copied().collect();
        for id in ids {
            self.stop_fault(id).await;
        }
    }

    /// Lifts fault `id`, if in effect, and records its stop.
    async fn stop_fault(&self, id: usize) {
        let Some(active) = self.active().remove(&id) else {
            return;
        };
        if let Some(t) = &active.strobe {
            t.abort();
        }
        let action = active.fault.action;
        let result = match &action {
            // The partitions still in effect (the long link cut under a
            // short partition) stay cut.
            FaultAction::Partition { .. } | FaultAction::LinkCut { .. } => {
                let rest = self.cuts_in_effect();
                self.blocking(move |c| {
                    if rest.is_empty() {
                        c.partitioner.heal()?;
                    } else {
                        c.partitioner.apply(&rest)?;
                    }
                    Ok(())
                })
                .await
            }
            FaultAction::ClockBump { offsets_ms } => {
                let nodes: Vec<NodeId> = offsets_ms.keys().cloned().collect();
                self.reset_clocks(nodes).await
            }
            FaultAction::ClockStrobe { nodes, .. } => self.reset_clocks(nodes.clone()).await,
            FaultAction::Pause { nodes } => self.each(nodes, |c, n| c.db.resume(n)).await,
            FaultAction::Crash { nodes } => self.restart(nodes).await,
            FaultAction::Wipe { node } => self.restart(std::slice::from_ref(node)).await,
        };
        if let Err(e) = &result {
            self.problem(format!("stopping {} fault: {e}", action.kind()));
        }
        self.record(Function::Stop, &action, result.err().map(|e| e.to_string()));
    }

    /// Resets the clocks of `nodes`, skipping a node that is down when its
    /// offset dies with the process (a crash fault overlapping the clock
    /// fault): it restarts at offset 0, and the request could only fail.
    async fn reset_clocks(&self, nodes: Vec<NodeId>) -> Result<(), FaultError> {
        self.blocking(move |c| {
            for n in &nodes {
                let down = matches!(c.db.status(n), NodeStatus::Down | NodeStatus::Exited(_));
                if down && !c.clock.offset_survives_restart() {
                    continue;
                }
                c.clock.set_offset(n, 0)?;
            }
            Ok(())
        })
        .await
    }

    async fn restart(&self, nodes: &[NodeId]) -> Result<(), FaultError> {
        for n in nodes {
            self.cluster.start(n, RESTART_TIMEOUT).await?;
        }
        Ok(())
    }
}

/// The union of the links `actions` cut: a partitioner holds one grudge,
/// and a partition may start or end while the `link` fault's cut goes on.
fn cut_links<'a>(actions: impl Iterator<Item = &'a FaultAction>) -> Grudge {
    actions.fold(Grudge::default(), |g, action| match action {
        FaultAction::Partition { grudge, .. } | FaultAction::LinkCut { grudge } => g.union(grudge),
        _ => g,
    })
}

/// The history event of a fault's start or stop at `time` (the writer
/// stamps its index).
fn nemesis_event(f: Function, action: &FaultAction, time: u64, error: Option<String>) -> Event {
    Event {
        index: 0,
        process: Process::Nemesis,
        kind: EventType::Info,
        f,
        time,
        key: None,
        value: None,
        values: None,
        observed: None,
        node: None,
        error,
        fault: Some(action.kind()),
        detail: Some(action.detail()),
    }
}

impl Drop for Nemesis {
    /// A strobe must not outlive the nemesis (it would skew clocks after
    /// teardown reset them).
    fn drop(&mut self) {
        for a in self.active().values() {
            if let Some(t) = &a.strobe {
                t.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::PartitionShape;
    use checkers::history::{read_history, write_line};

    /// One fault of every kind and action, and the line the nemesis writes
    /// for its start, byte for byte.
    fn every_action() -> Vec<(FaultAction, &'static str)> {
        let shape = PartitionShape::IsolateOne;
        vec![
            (
                FaultAction::Partition {
                    shape,
                    grudge: shape.grudge(&NodeId::cluster(3)),
                },
                r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":5,"fault":"partition","detail":{"action":"partition","grudge":{"n1":["n2","n3"],"n2":["n1"],"n3":["n1"]},"shape":"isolate-one"}}"#,
            ),
            (
                FaultAction::ClockBump {
                    offsets_ms: [(NodeId::nth(0), -4000), (NodeId::nth(1), 1500)].into(),
                },
                r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":5,"fault":"clock","detail":{"action":"clock-bump","offsets_ms":{"n1":-4000,"n2":1500}}}"#,
            ),
            (
                FaultAction::ClockStrobe {
                    nodes: NodeId::cluster(2),
                    offsets_ms: (200, -900),
                    period: Duration::from_millis(100),
                },
                r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":5,"fault":"clock","detail":{"action":"clock-strobe","nodes":["n1","n2"],"offsets_ms":[200,-900],"period":100}}"#,
            ),
            (
                FaultAction::Crash {
                    nodes: vec![NodeId::nth(1), NodeId::nth(2)],
                },
                r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":5,"fault":"crash","detail":{"action":"crash","nodes":["n2","n3"]}}"#,
            ),
            (
                FaultAction::Pause {
                    nodes: NodeId::cluster(1),
                },
                r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":5,"fault":"pause","detail":{"action":"pause","nodes":["n1"]}}"#,
            ),
            (
                FaultAction::Wipe {
                    node: NodeId::nth(2),
                },
                r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":5,"fault":"wipe","detail":{"action":"wipe","node":"n3"}}"#,
            ),
            (
                FaultAction::LinkCut {
                    grudge: Grudge::link(&NodeId::nth(3), &NodeId::nth(0)),
                },
                r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":5,"fault":"link","detail":{"action":"partition","grudge":{"n1":["n4"],"n4":["n1"]},"shape":"link"}}"#,
            ),
        ]
    }

    fn line(e: &Event) -> String {
        let mut out = Vec::new();
        write_line(&mut out, e).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_partition_ending_under_the_link_cut_leaves_the_link_cut() {
        let n = NodeId::cluster(5);
        let link = FaultAction::LinkCut {
            grudge: Grudge::link(&n[0], &n[1]),
        };
        let shape = PartitionShape::Halves;
        let halves = FaultAction::Partition {
            shape,
            grudge: shape.grudge(&n),
        };
        let crash = FaultAction::Crash {
            nodes: vec![n[2].clone()],
        };
        // Link, partition and crash in effect: both cuts.
        let all = cut_links([&link, &halves, &crash].into_iter());
        assert!(all.cuts(&n[0], &n[1]) && all.cuts(&n[0], &n[3]));
        // The partition stopped: only the link, both ways.
        let rest = cut_links([&link, &crash].into_iter());
        assert_eq!(rest, Grudge::link(&n[0], &n[1]));
        assert!(!rest.cuts(&n[0], &n[3]));
        // Nothing cuts: the runner heals.
        assert!(cut_links([&crash].into_iter()).is_empty());
    }

    #[test]
    fn every_fault_action_writes_its_pinned_line_and_reads_back_byte_for_byte() {
        for (action, pinned) in every_action() {
            let written = line(&nemesis_event(Function::Start, &action, 5, None));
            assert_eq!(written, format!("{pinned}\n"), "{action:?}");
            let read = read_history(written.as_bytes()).unwrap();
            assert_eq!(read.len(), 1);
            assert_eq!(line(&read[0]), written, "{action:?} did not round-trip");
        }
    }

    #[test]
    fn a_failed_stop_carries_its_error_before_the_fault() {
        let action = FaultAction::Wipe {
            node: NodeId::nth(0),
        };
        let written = line(&nemesis_event(
            Function::Stop,
            &action,
            7,
            Some("n1 did not restart".into()),
        ));
        assert_eq!(
            written,
            "{\"index\":0,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"stop\",\"time\":7,\"error\":\"n1 did not restart\",\"fault\":\"wipe\",\"detail\":{\"action\":\"wipe\",\"node\":\"n1\"}}\n"
        );
        let read = read_history(written.as_bytes()).unwrap();
        assert_eq!(line(&read[0]), written);
    }
}

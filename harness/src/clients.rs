//! The client processes: each bound to one node, as in Jepsen, each pulling
//! ops from its own seeded stream and recording an invoke and exactly one
//! completion per op in the history.
//!
//! Invoke and completion times come from the history writer's monotonic
//! clock. A process never waits on anything but its own op (which has a
//! timeout) and the optional shared rate schedule, so a dead node slows no
//! other process.

use crate::client::{NodeClient, Outcome};
use crate::history_writer::HistoryWriter;
use checkers::history::{Event, EventType, Function, Process};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;
use workloads::{Op, OpKind, OpStream, RateLimiter};

/// Completions so far, for the progress line and the closing summary.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub ok: AtomicU64,
    pub info: AtomicU64,
    pub fail: AtomicU64,
}

impl ClientStats {
    pub fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
    }
}

/// The optional total rate, shared by every process: op `n` (counted across
/// all processes) starts no earlier than the limiter says.
pub struct SharedRate {
    limiter: RateLimiter,
    next: AtomicU64,
}

impl SharedRate {
    pub fn new(limiter: RateLimiter) -> SharedRate {
        SharedRate {
            limiter,
            next: AtomicU64::new(0),
        }
    }
}

/// How long a process waits after its node refused a connection.
const REFUSED_BACKOFF: Duration = Duration::from_millis(50);

/// What [`ClientProcess::perform`] tells the loop.
#[derive(Debug, PartialEq, Eq)]
enum Completion {
    /// The op is `ok`.
    Acknowledged,
    /// The op failed or may have happened (`fail`, `info`).
    Done,
    /// The node refused the connection: it is down.
    Refused,
}

/// One client process's loop.
pub struct ClientProcess {
    pub process: u32,
    pub client: NodeClient,
    pub ops: OpStream,
    pub history: Arc<HistoryWriter>,
    pub stats: Arc<ClientStats>,
    pub rate: Option<Arc<SharedRate>>,
    /// Time zero of the test (the rate schedule counts from here).
    pub test_start: Instant,
    /// No op is invoked at or after this instant.
    pub stop_at: Instant,
}

impl ClientProcess {
    pub async fn run(mut self) {
        while Instant::now() < self.stop_at {
            if let Some(rate) = &self.rate {
                let n = rate.next.fetch_add(1, Ordering::Relaxed);
                let due = self.test_start + rate.limiter.start_at(n);
                if due >= self.stop_at {
                    break;
                }
                tokio::time::sleep_until(due).await;
            }
            let op = self.ops.next_at(self.test_start.elapsed());
            let completion = self.perform(op).await;
            self.ops.completed(completion == Completion::Acknowledged);
            if completion == Completion::Refused {
                // The node is down: its refusals are instant, and a tight loop
                // would fill the history with them and starve the other
                // processes of CPU. Jepsen's clients likewise pause on refusal.
                tokio::time::sleep(REFUSED_BACKOFF).await;
            }
        }
    }

    fn event(&self, kind: EventType, op: &Op) -> Event {
        Event {
            index: 0,
            process: Process::Client(self.process),
            kind,
            f: match op.kind {
                OpKind::Read => Function::Read,
                OpKind::Write => Function::Write,
                OpKind::Delete => Function::Delete,
            },
            time: self.history.now(),
            key: Some(op.key.clone()),
            value: op.value.clone(),
            values: None,
            observed: None,
            node: Some(self.client.node().clone()),
            error: None,
            fault: None,
            detail: None,
        }
    }

    async fn perform(&self, op: Op) -> Completion {
        self.history.record(self.event(EventType::Invoke, &op));
        let (outcome, values, observed) = match op.kind {
            OpKind::Read => match self.client.read(&op.key).await {
                Outcome::Ok(r) => (Outcome::Ok(()), Some(r.values), None),
                Outcome::Fail(e) => (Outcome::Fail(e), None, None),
                Outcome::Info(e) => (Outcome::Info(e), None, None),
            },
            OpKind::Write | OpKind::Delete => self.mutate(&op).await,
        };
        let mut done = self.event(EventType::Ok, &op);
        done.values = values;
        done.observed = observed;
        let mut completion = Completion::Done;
        let counter = match outcome {
            Outcome::Ok(()) => {
                completion = Completion::Acknowledged;
                &self.stats.ok
            }
            Outcome::Fail(e) => {
                if e.contains(crate::client::REFUSED) {
                    completion = Completion::Refused;
                }
                done.kind = EventType::Fail;
                done.error = Some(e);
                &self.stats.fail
            }
            Outcome::Info(e) => {
                done.kind = EventType::Info;
                done.error = Some(e);
                &self.stats.info
            }
        };
        self.history.record(done);
        counter.fetch_add(1, Ordering::Relaxed);
        completion
    }

    /// A write or delete; causal ops first read the key for its context.
    async fn mutate(&self, op: &Op) -> (Outcome<()>, Option<Vec<String>>, Option<Vec<String>>) {
        let (context, observed) = if op.causal {
            match self.client.read(&op.key).await {
                Outcome::Ok(r) => (r.context, Some(r.values)),
                // The mutation itself was never sent, so it surely did not happen.
                Outcome::Fail(e) | Outcome::Info(e) => {
                    return (Outcome::Fail(format!("context read: {e}")), None, None);
                }
            }
        } else {
            (None, None)
        };
        let outcome = match (&op.kind, &op.value) {
            (OpKind::Write, Some(v)) => self.client.write(&op.key, v, context.as_ref()).await,
            (OpKind::Write, None) => Outcome::Fail("generated write has no value".into()),
            _ => self.client.delete(&op.key, context.as_ref()).await,
        };
        (outcome, None, observed)
    }
}

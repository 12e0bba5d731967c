//! Hinted handoff: writes a replica missed are kept by the coordinator and
//! replayed when the replica is reachable again.
//!
//! A hint is the write's record exactly as sent (original LWW timestamp or
//! DVV dots), so replay is an idempotent merge on the target. Hints are
//! stored durably in the node's redb file (table `hints`, id = target id,
//! `0x00`, big-endian sequence, so one target's hints are one ordered
//! range) and never count towards W.
//!
//! Bounds, as in Cassandra: no hint is stored for a target that has been
//! unreachable for longer than `window` (measured from its first missed
//! write, on this node's skewable clock), at most `max_per_target` are
//! kept, and a hint older than `window` is dropped instead of replayed.
//! Every dropped hint is counted by reason.

use crate::clock::NodeClock;
use crate::config::HintsConfig;
use crate::metrics::{HintDrop, Metrics};
use crate::peer::{PeerClient, PeerRequest, PeerResponse};
use crate::storage::{StorageError, Store};
use crate::types::{Key, NodeId};
use crate::version::Record;
#[cfg(feature = "zoo")]
use crate::zoo::{self, Bug};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How often the replay loop wakes.
const REPLAY_TICK: Duration = Duration::from_millis(100);

/// One stored hint.
#[derive(Debug, Serialize, Deserialize)]
struct StoredHint {
    key: Key,
    record: Record,
    /// This node's clock when the hint was stored (expiry).
    stored_ms: u64,
}

/// Per-target bookkeeping.
#[derive(Debug, Default)]
struct TargetState {
    /// When the target first missed a write since it last acknowledged one,
    /// on the monotonic clock: an outage's length is real time (Cassandra's
    /// hint window reads its failure detector's downtime the same way), so
    /// a clock step neither shortens nor lengthens it. Only a hint's age at
    /// replay is wall-clock time, since hints outlive the process.
    unreachable_since: Option<Instant>,
    /// Hints stored for it.
    backlog: u64,
}

/// The hint store and replayer of one node.
pub struct Hints {
    config: HintsConfig,
    store: Store,
    clock: Arc<NodeClock>,
    metrics: Arc<Metrics>,
    next_seq: AtomicU64,
    /// A std mutex: held only for map updates, never across an await.
    targets: Mutex<BTreeMap<NodeId, TargetState>>,
}

fn prefix_of(target: &NodeId) -> Vec<u8> {
    let mut prefix = target.as_str().as_bytes().to_vec();
    prefix.push(0);
    prefix
}

impl Hints {
    /// Loads the backlog of hints left from before a restart.
    pub fn open(
        config: HintsConfig,
        store: Store,
        clock: Arc<NodeClock>,
        metrics: Arc<Metrics>,
        peers: &[NodeId],
    ) -> Result<Hints, StorageError> {
        let mut targets: BTreeMap<NodeId, TargetState> = peers
            .iter()
            .map(|p| (p.clone(), TargetState::default()))
            .collect();
        for id in store.hint_ids()? {
            if let Some(state) = targets
                .iter_mut()
                .find(|(peer, _)| id.starts_with(&prefix_of(peer)))
                .map(|(_, s)| s)
            {
                state.backlog += 1;
            }
        }
        Ok(Hints {
            next_seq: AtomicU64::new(clock.wall_us()),
            config,
            store,
            clock,
            metrics,
            targets: Mutex::new(targets),
        })
    }

    fn targets(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, TargetState>> {
        // Plain counter updates only; a poisoned map is still consistent.
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The target acknowledged something: its outage (if any) is over.
    pub fn note_reachable(&self, target: &NodeId) {
        if let Some(state) = self.targets().get_mut(target) {
            state.unreachable_since = None;
        }
    }

    /// Hints per target, for the backlog gauge.
    pub fn backlog(&self) -> Vec<(NodeId, u64)> {
        self.targets()
            .iter()
            .map(|(n, s)| (n.clone(), s.backlog))
            .collect()
    }

    /// `target` missed this write: keep a hint if the bounds allow.
    pub async fn store(&self, target: &NodeId, key: Key, record: Record) {
        if !self.config.enabled {
            return;
        }
        let now_ms = self.clock.wall_ms();
        let verdict = {
            let mut targets = self.targets();
            let Some(state) = targets.get_mut(target) else {
                return;
            };
            let now = Instant::now();
            let since = *state.unreachable_since.get_or_insert(now);
            if now.duration_since(since) > self.config.window {
                Err(HintDrop::Window)
            } else if state.backlog >= self.config.max_per_target {
                Err(HintDrop::Full)
            } else {
                state.backlog += 1;
                Ok(())
            }
        };
        if let Err(reason) = verdict {
            self.metrics.record_hint_dropped(reason, 1);
            return;
        }
        let mut id = prefix_of(target);
        id.extend_from_slice(&self.next_seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let hint = StoredHint {
            key,
            record,
            stored_ms: now_ms,
        };
        let stored = match postcard::to_stdvec(&hint) {
            Ok(bytes) => self.store.put_hint(id, bytes).await,
            Err(e) => Err(StorageError::Engine(e.to_string())),
        };
        match stored {
            Ok(()) => self.metrics.record_hint_stored(),
            Err(e) => {
                tracing::error!(error = %e, %target, "storing a hint failed");
                if let Some(state) = self.targets().get_mut(target) {
                    state.backlog = state.backlog.saturating_sub(1);
                }
            }
        }
    }

    /// Replays hints forever (until the task is aborted), at most
    /// `replay_rate` per second per target.
    pub async fn run_replay(
        self: Arc<Self>,
        peers: HashMap<NodeId, Arc<PeerClient>>,
        request_timeout: Duration,
    ) {
        let per_tick = ((self.config.replay_rate as f64) * REPLAY_TICK.as_secs_f64())
            .ceil()
            .max(1.0) as usize;
        let mut ticker = tokio::time::interval(REPLAY_TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let pending: Vec<NodeId> = self
                .targets()
                .iter()
                .filter(|(_, s)| s.backlog > 0)
                .map(|(n, _)| n.clone())
                .collect();
            for target in pending {
                let Some(peer) = peers.get(&target) else {
                    continue;
                };
                if let Err(e) = self
                    .replay_some(&target, peer, per_tick, request_timeout)
                    .await
                {
                    tracing::error!(error = %e, %target, "hint replay failed");
                }
            }
        }
    }

    /// Replays up to `limit` of `target`'s oldest hints; stops at the first
    /// one the target does not acknowledge.
    async fn replay_some(
        &self,
        target: &NodeId,
        peer: &PeerClient,
        limit: usize,
        request_timeout: Duration,
    ) -> Result<(), StorageError> {
        let batch = self.store.hints_with_prefix(&prefix_of(target), limit)?;
        let now_ms = self.clock.wall_ms();
        let window_ms = self.config.window.as_millis() as u64;
        let (mut done, mut replayed, mut expired) = (Vec::new(), 0u64, 0u64);
        for (id, bytes) in batch {
            let Ok(hint) = postcard::from_bytes::<StoredHint>(&bytes) else {
                tracing::error!(%target, "dropping an undecodable hint");
                done.push(id);
                expired += 1;
                continue;
            };
            let too_old = now_ms.saturating_sub(hint.stored_ms) > window_ms;
            // zoo: hints-outlive-grace — never expire a hint at replay.
            #[cfg(feature = "zoo")]
            let too_old = too_old && !zoo::active(Bug::HintsOutliveGrace);
            if too_old {
                done.push(id);
                expired += 1;
                continue;
            }
            let record = hint.record;
            // zoo: hint-restamps — replay an LWW write stamped with the
            // replay time instead of its original timestamp.
            #[cfg(feature = "zoo")]
            let record = match record {
                Record::Lww(r) if zoo::active(Bug::HintRestamps) => {
                    Record::Lww(crate::version::LwwRecord {
                        timestamp: self.clock.now(),
                        ..r
                    })
                }
                other => other,
            };
            let request = PeerRequest::Merge {
                key: hint.key,
                record,
            };
            match peer.call(request, Instant::now() + request_timeout).await {
                Ok(PeerResponse::Merged) => {
                    done.push(id);
                    replayed += 1;
                }
                _ => break,
            }
        }
        if done.is_empty() {
            return Ok(());
        }
        let count = done.len() as u64;
        self.store.delete_hints(done).await?;
        if replayed > 0 {
            self.note_reachable(target);
        }
        if let Some(state) = self.targets().get_mut(target) {
            state.backlog = state.backlog.saturating_sub(count);
        }
        self.metrics.record_hints_replayed(replayed);
        self.metrics.record_hint_dropped(HintDrop::Expired, expired);
        Ok(())
    }
}

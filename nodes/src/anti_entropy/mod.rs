//! Anti-entropy: the node side of the [`crate::merkle`] sessions.
//!
//! One [`RangeSlot`] per *range* — here, per distinct replica set this node
//! belongs to (every key with the same preference-list members), which is
//! the unit two replicas can compare. Trees are rebuilt from storage at
//! start and then maintained incrementally through the storage writer's
//! change hook ([`AntiEntropy`] implements [`ChangeObserver`]).
//!
//! A *round* with a peer runs one session per range the two share: this
//! node drives an [`Initiator`] and ships its requests over the internode
//! RPC; the peer answers with a [`Responder`] kept per session id. Both
//! sides merge what they lack in the same session. Each peer has its own
//! schedule: a round every `interval` plus random `jitter`, and after a
//! failed round another after [`RETRY_AFTER_FAILURE`] (at most `interval`),
//! so a peer that was down or cut off is repaired about a second after it
//! is back rather than up to a whole interval later, and an unreachable
//! peer's timeouts never delay the rounds with the others. At most
//! `max_concurrent` peers at once, all streaming throttled to
//! `rate_bytes_per_sec`; `POST /admin/anti-entropy` runs one round with
//! every peer now.
//!
//! Memory is bounded whatever the configuration: with anti-entropy off, or
//! for a replica set of this node alone (rf = 1), there are no trees at all
//! (nothing could ever compare them); the change queue of a range is bounded
//! by [`index::MAX_PENDING`]; responders are dropped when their initiator
//! ends the session (`AntiEntropyEnd`), when idle for [`RESPONDER_IDLE`],
//! and the least recently used goes when [`MAX_RESPONDERS`] are held.

mod index;
mod range_store;
mod report;

use crate::config::{AntiEntropyConfig, AntiEntropyMode};
use crate::merkle::{
    Initiator, MerkleTree, Request, Responder, Response, SessionConfig, SessionStats,
};
use crate::peer::{PeerClient, PeerRequest, PeerResponse};
use crate::ring::Ring;
use crate::storage::{ChangeObserver, StorageError, Store};
use crate::types::{Key, NodeId};
use crate::version::Record;
use index::{Change, RangeSlot, describe};
use range_store::NodeRangeStore;
use report::AeMetrics;
pub use report::RoundReport;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A responder idle this long is dropped (its initiator gave up).
const RESPONDER_IDLE: Duration = Duration::from_secs(120);
/// Most responders held at once (each holds a fingerprinter, about 8 KiB).
/// Initiators run `max_concurrent` sessions each, one range at a time, so
/// live sessions are few; the cap only matters for abandoned ones.
pub const MAX_RESPONDERS: usize = 64;
/// How soon a failed round with a peer is tried again (never later than
/// `interval`). Repair lag is what `tombstones.gc_grace` must cover: with a
/// whole interval between attempts, a peer's outages and the other peer's
/// round times can line up so that no round lands in the gaps between
/// faults, and a replica that missed a delete misses the tombstone until
/// it is purged (a clean default run resurrected values so: a 40 s stretch
/// of failed rounds while every gap between outages was 1.6 to 5 s long).
/// One attempt a second costs a refused dial, or one request timeout, per
/// unreachable peer.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Deadline of one session message: a full-mode chunk can be large.
const MIN_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Responder state per (initiator, session id), with its last use.
type Responders = HashMap<(NodeId, u64), (Responder, Instant)>;

/// The anti-entropy component of one node.
pub struct AntiEntropy {
    config: AntiEntropyConfig,
    me: NodeId,
    ring: Ring,
    /// Replica sets containing this node, sorted; index = slot.
    ranges: Vec<Vec<NodeId>>,
    slots: Vec<RangeSlot>,
    /// Set once storage is open (the writer hook exists before the store).
    store: OnceLock<Store>,
    responders: Mutex<Responders>,
    next_session: AtomicU64,
    request_timeout: Duration,
    metrics: AeMetrics,
}

/// Why a round with a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum RoundError {
    #[error("anti-entropy is off")]
    Off,
    #[error("storage is not open")]
    NoStore,
    #[error("peer: {0}")]
    Peer(String),
    #[error("session: {0}")]
    Session(String),
}

impl AntiEntropy {
    /// Empty trees for every range this node replicates.
    pub fn new(
        config: AntiEntropyConfig,
        me: NodeId,
        ring: Ring,
        request_timeout: Duration,
    ) -> Result<AntiEntropy, String> {
        // No trees when nothing could ever compare them: anti-entropy off, or
        // a replica set of this node alone. Their change queues would only
        // grow (only sessions drain them).
        let mut ranges: Vec<Vec<NodeId>> = ring
            .ranges_of(&me)
            .into_iter()
            .filter(|_| config.mode != AntiEntropyMode::Off)
            .map(|r| {
                let mut set = r.replicas;
                set.sort();
                set
            })
            .filter(|set| set.len() > 1)
            .collect();
        ranges.sort();
        ranges.dedup();
        let slots = ranges
            .iter()
            .map(|_| MerkleTree::new(config.leaf_bits).map(RangeSlot::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("config field anti_entropy.leaf_bits: {e}"))?;
        Ok(AntiEntropy {
            config,
            me,
            ring,
            ranges,
            slots,
            store: OnceLock::new(),
            responders: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
            request_timeout,
            metrics: AeMetrics::default(),
        })
    }

    /// Attaches the opened store and rebuilds every tree from it.
    pub fn attach(&self, store: Store) -> Result<(), StorageError> {
        let mut locked: Vec<_> = self.slots.iter().map(|s| s.lock()).collect();
        for index in &mut locked {
            index.entries.clear();
            index.tree = MerkleTree::new(self.config.leaf_bits)
                .map_err(|e| StorageError::Engine(e.to_string()))?;
        }
        store.scan(|key, record| {
            if let Some(slot) = self.slot_of(&key) {
                let (key_hash, entry) = describe(key.as_str(), &record);
                locked[slot].apply(Change {
                    key: key.as_str().as_bytes().to_vec(),
                    key_hash,
                    new: Some(entry),
                });
            }
        })?;
        drop(locked);
        self.metrics
            .rebuilds
            .fetch_add(self.slots.len() as u64, Ordering::Relaxed);
        let _ = self.store.set(store);
        Ok(())
    }

    fn slot_of(&self, key: &Key) -> Option<usize> {
        let mut set = self.ring.preference_list(key);
        set.sort();
        self.ranges.binary_search(&set).ok()
    }

    /// The mode in force.
    pub fn mode(&self) -> AntiEntropyMode {
        self.config.mode
    }

    /// Runs one round with every peer now (`POST /admin/anti-entropy`).
    pub async fn round_with_all(
        self: &Arc<Self>,
        peers: &HashMap<NodeId, Arc<PeerClient>>,
    ) -> RoundReport {
        let started = Instant::now();
        let mut report = RoundReport::default();
        let mut ids: Vec<&NodeId> = peers.keys().collect();
        ids.sort();
        for id in ids {
            match self.round_with(&peers[id]).await {
                Ok(stats) => {
                    report.totals.absorb(&stats);
                    report.peers_ok.push(id.to_string());
                }
                Err((stats, e)) => {
                    report.totals.absorb(&stats);
                    report.peers_failed.push((id.to_string(), e.to_string()));
                }
            }
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        report
    }

    /// One session per range shared with `peer`.
    pub async fn round_with(
        self: &Arc<Self>,
        peer: &PeerClient,
    ) -> Result<SessionStats, (SessionStats, RoundError)> {
        let mut total = SessionStats::default();
        if self.config.mode == AntiEntropyMode::Off {
            return Err((total, RoundError::Off));
        }
        let shared: Vec<usize> = (0..self.ranges.len())
            .filter(|&i| self.ranges[i].contains(peer.peer()))
            .collect();
        for slot in shared {
            match self.session(peer, slot).await {
                Ok(stats) => total.absorb(&stats),
                Err((partial, e)) => {
                    // What the failed session moved before it failed was
                    // really moved: it counts, or repair cost is undercounted
                    // exactly when repair is hardest (timeouts under load).
                    total.absorb(&partial);
                    self.metrics.rounds_failed.fetch_add(1, Ordering::Relaxed);
                    self.record(&total);
                    return Err((total, e));
                }
            }
        }
        self.record(&total);
        self.metrics.rounds_ok.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.metrics
            .last_success
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer.peer().clone(), now);
        Ok(total)
    }

    fn record(&self, stats: &SessionStats) {
        let m = &self.metrics;
        m.ranges_compared
            .fetch_add(stats.ranges_compared, Ordering::Relaxed);
        m.ranges_mismatched
            .fetch_add(stats.ranges_differing, Ordering::Relaxed);
        m.keys_sent.fetch_add(stats.keys_sent, Ordering::Relaxed);
        m.keys_received
            .fetch_add(stats.keys_received, Ordering::Relaxed);
        m.bytes_sent.fetch_add(stats.bytes_sent, Ordering::Relaxed);
        m.bytes_received
            .fetch_add(stats.bytes_received, Ordering::Relaxed);
    }

    fn session_config(&self) -> SessionConfig {
        let seed = self.next_session.load(Ordering::Relaxed) ^ 0x5851_f42d_4c95_7f2d;
        match self.config.mode {
            AntiEntropyMode::Full => SessionConfig::full(seed),
            _ => SessionConfig::merkle(seed),
        }
    }

    /// Runs `f` on slot `slot`'s range store (blocking thread).
    fn with_store<R>(
        &self,
        slot: usize,
        f: impl FnOnce(&mut NodeRangeStore<'_>) -> R,
    ) -> Result<R, RoundError> {
        let store = self.store.get().ok_or(RoundError::NoStore)?;
        let index = self.slots[slot].lock();
        let mut range = NodeRangeStore {
            store,
            slot: &self.slots[slot],
            index,
        };
        Ok(f(&mut range))
    }

    /// Drives one initiator session against `peer` for `slot`, then tells
    /// the peer the session is over so it drops its responder at once. A
    /// failed session returns what it had moved before failing.
    async fn session(
        self: &Arc<Self>,
        peer: &PeerClient,
        slot: usize,
    ) -> Result<SessionStats, (SessionStats, RoundError)> {
        let session_id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let result = self.run_session(peer, slot, session_id).await;
        let end = PeerRequest::AntiEntropyEnd {
            from: self.me.clone(),
            session: session_id,
        };
        // Best effort: a responder not told is dropped when idle or evicted.
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        if let Err(e) = peer.call(end, deadline).await {
            tracing::debug!(peer = %peer.peer(), error = %e, "could not end an anti-entropy session");
        }
        result
    }

    async fn run_session(
        self: &Arc<Self>,
        peer: &PeerClient,
        slot: usize,
        session_id: u64,
    ) -> Result<SessionStats, (SessionStats, RoundError)> {
        // What the session has moved so far, kept outside the initiator
        // (which lives on a blocking thread between messages), so a failure
        // at any step still reports it.
        let mut moved = SessionStats::default();
        let mut initiator = Initiator::new(self.session_config());
        let this = self.clone();
        let (back, first) = tokio::task::spawn_blocking(move || {
            let r = this.with_store(slot, |s| initiator.start(s).map_err(|e| e.to_string()));
            (initiator, r)
        })
        .await
        .map_err(|e| (moved, RoundError::Session(e.to_string())))?;
        initiator = back;
        let mut request = first
            .and_then(|r| r.map_err(RoundError::Session))
            .map_err(|e| (moved, e))?;
        let timeout = self.request_timeout.max(MIN_MESSAGE_TIMEOUT);
        loop {
            let sent_bytes = postcard::to_stdvec(&request).map(|b| b.len()).unwrap_or(0);
            let call = PeerRequest::AntiEntropy {
                from: self.me.clone(),
                replicas: self.ranges[slot].clone(),
                session: session_id,
                request,
            };
            let response = match peer.call(call, tokio::time::Instant::now() + timeout).await {
                Ok(PeerResponse::AntiEntropy(r)) => r,
                Ok(PeerResponse::Failed(why)) => return Err((moved, RoundError::Peer(why))),
                Ok(_) => {
                    return Err((moved, RoundError::Peer("unexpected response".into())));
                }
                Err(e) => return Err((moved, RoundError::Peer(e.to_string()))),
            };
            let received_bytes = postcard::to_stdvec(&response).map(|b| b.len()).unwrap_or(0);
            self.throttle(sent_bytes + received_bytes).await;
            let this = self.clone();
            let (back, next) = tokio::task::spawn_blocking(move || {
                let r = this.with_store(slot, |s| {
                    initiator
                        .on_response(s, response)
                        .map_err(|e| e.to_string())
                });
                (initiator, r)
            })
            .await
            .map_err(|e| (moved, RoundError::Session(e.to_string())))?;
            initiator = back;
            moved = *initiator.stats();
            match next
                .and_then(|r| r.map_err(RoundError::Session))
                .map_err(|e| (moved, e))?
            {
                Some(next) => request = next,
                None => return Ok(moved),
            }
        }
    }

    /// Sleeps long enough to keep streaming under `rate_bytes_per_sec`.
    async fn throttle(&self, bytes: usize) {
        let rate = self.config.rate_bytes_per_sec;
        if rate > 0 && bytes > 0 {
            tokio::time::sleep(Duration::from_secs_f64(bytes as f64 / rate as f64)).await;
        }
    }

    /// Answers one session message from `from` (blocking thread).
    pub fn respond(
        &self,
        from: NodeId,
        replicas: Vec<NodeId>,
        session: u64,
        request: Request,
    ) -> Result<Response, String> {
        if self.config.mode == AntiEntropyMode::Off {
            return Err("anti-entropy is off on this node".into());
        }
        let slot = self
            .ranges
            .binary_search(&replicas)
            .map_err(|_| "unknown range".to_string())?;
        let mut responders = self.lock_responders();
        responders.retain(|_, (_, used)| used.elapsed() < RESPONDER_IDLE);
        let (mut responder, _) = responders
            .remove(&(from.clone(), session))
            .unwrap_or_else(|| (Responder::new(), Instant::now()));
        drop(responders);
        let result = self.with_store(slot, |s| {
            responder.handle(s, request).map_err(|e| e.to_string())
        });
        let mut responders = self.lock_responders();
        while responders.len() >= MAX_RESPONDERS {
            let oldest = responders
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => responders.remove(&k),
                None => break,
            };
        }
        responders.insert((from, session), (responder, Instant::now()));
        drop(responders);
        result.map_err(|e| e.to_string())?
    }

    /// Drops the responder of a session its initiator has ended.
    pub fn end_session(&self, from: &NodeId, session: u64) {
        self.lock_responders().remove(&(from.clone(), session));
    }

    /// Responders currently held (the responders gauge).
    pub fn responders(&self) -> usize {
        self.lock_responders().len()
    }

    /// Changes queued for the trees and not yet applied (a gauge).
    pub fn pending_changes(&self) -> usize {
        self.slots.iter().map(RangeSlot::pending).sum()
    }

    fn lock_responders(&self) -> std::sync::MutexGuard<'_, Responders> {
        self.responders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs rounds forever, one schedule per peer (see the module doc).
    pub async fn run_scheduler(self: Arc<Self>, peers: HashMap<NodeId, Arc<PeerClient>>) {
        if self.config.mode == AntiEntropyMode::Off {
            return;
        }
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.config.max_concurrent.max(1),
        ));
        let mut schedules = tokio::task::JoinSet::new();
        for peer in peers.into_values() {
            schedules.spawn(self.clone().peer_schedule(peer, limit.clone()));
        }
        while schedules.join_next().await.is_some() {}
    }

    /// One peer's rounds: `interval` + jitter after a success, the shorter
    /// retry after a failure.
    async fn peer_schedule(
        self: Arc<Self>,
        peer: Arc<PeerClient>,
        limit: Arc<tokio::sync::Semaphore>,
    ) {
        let retry = RETRY_AFTER_FAILURE.min(self.config.interval);
        let scheduled = || self.config.interval + crate::jitter::below(self.config.jitter);
        let mut wait = scheduled();
        // Failed rounds in a row: only the first is a warning, so a peer
        // that is down for hours logs two lines, not one a second.
        let mut failed_in_a_row = 0u64;
        loop {
            tokio::time::sleep(wait).await;
            let Ok(_permit) = limit.acquire().await else {
                return;
            };
            wait = match self.round_with(&peer).await {
                Ok(_) => {
                    if failed_in_a_row > 0 {
                        tracing::info!(peer = %peer.peer(), failed_rounds = failed_in_a_row, "anti-entropy round succeeded again");
                        failed_in_a_row = 0;
                    }
                    scheduled()
                }
                Err((_, e)) => {
                    if failed_in_a_row == 0 {
                        tracing::warn!(peer = %peer.peer(), error = %e, "anti-entropy round failed; retrying every {retry:?}");
                    } else {
                        tracing::debug!(peer = %peer.peer(), error = %e, "anti-entropy round failed again");
                    }
                    failed_in_a_row += 1;
                    retry
                }
            };
        }
    }
}

impl AntiEntropy {
    /// Appends the anti-entropy metrics to a Prometheus exposition.
    pub fn render_metrics(&self, out: &mut String) {
        self.metrics.render_metrics(out);
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "# HELP converge_anti_entropy_pending_changes Changes queued for the Merkle trees, not yet applied.\n\
             # TYPE converge_anti_entropy_pending_changes gauge\n\
             converge_anti_entropy_pending_changes {}\n\
             # HELP converge_anti_entropy_responders Anti-entropy sessions this node is answering.\n\
             # TYPE converge_anti_entropy_responders gauge\n\
             converge_anti_entropy_responders {}\n",
            self.pending_changes(),
            self.responders()
        );
    }
}

impl ChangeObserver for AntiEntropy {
    fn changed(&self, key: &Key, new: Option<&Record>) {
        let Some(slot) = self.slot_of(key) else {
            return;
        };
        let key_bytes = key.as_str().as_bytes().to_vec();
        let change = match new {
            Some(record) => {
                let (key_hash, entry) = describe(key.as_str(), record);
                Change {
                    key: key_bytes,
                    key_hash,
                    new: Some(entry),
                }
            }
            None => Change {
                key_hash: crate::merkle::key_hash(&key_bytes),
                key: key_bytes,
                new: None,
            },
        };
        self.slots[slot].push(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ae(mode: AntiEntropyMode, members: usize, rf: usize) -> AntiEntropy {
        let ids: Vec<NodeId> = (1..=members)
            .map(|i| NodeId::new(&format!("n{i}")))
            .collect();
        let config = AntiEntropyConfig {
            mode,
            ..AntiEntropyConfig::default()
        };
        let ring = Ring::new(&ids, 16, rf);
        AntiEntropy::new(config, ids[0].clone(), ring, Duration::from_secs(1)).unwrap()
    }

    fn write_many(ae: &AntiEntropy, n: usize) {
        let record = Record::Lww(crate::version::LwwRecord {
            timestamp: crate::clock::HlcTimestamp::default(),
            coordinator: NodeId::new("n1"),
            value: Some("v".into()),
        });
        for i in 0..n {
            ae.changed(&Key::parse(&format!("key-{i}")).unwrap(), Some(&record));
        }
    }

    #[test]
    fn nothing_is_queued_when_no_session_could_ever_drain_it() {
        // Anti-entropy off, and a node that replicates alone (rf = 1).
        for ae in [
            ae(AntiEntropyMode::Off, 3, 3),
            ae(AntiEntropyMode::Merkle, 3, 1),
        ] {
            write_many(&ae, 10_000);
            assert_eq!(ae.pending_changes(), 0);
        }
    }

    #[test]
    fn the_change_queue_stays_bounded_between_sessions() {
        let ae = ae(AntiEntropyMode::Merkle, 3, 3);
        write_many(&ae, 3 * index::MAX_PENDING);
        assert!(ae.pending_changes() <= index::MAX_PENDING * ae.slots.len());
        assert!(ae.pending_changes() < 3 * index::MAX_PENDING);
    }

    #[test]
    fn responders_are_capped_and_dropped_when_their_session_ends() {
        let ae = ae(AntiEntropyMode::Merkle, 3, 3);
        let from = NodeId::new("n2");
        let replicas = ae.ranges[0].clone();
        for session in 0..(3 * MAX_RESPONDERS as u64) {
            // No store is attached, so the answer is an error; the session's
            // state is still kept, which is what this test is about.
            let _ = ae.respond(
                from.clone(),
                replicas.clone(),
                session,
                Request::Open { salt: session },
            );
        }
        assert_eq!(ae.responders(), MAX_RESPONDERS);
        let last = 3 * MAX_RESPONDERS as u64 - 1;
        ae.end_session(&from, last);
        assert_eq!(ae.responders(), MAX_RESPONDERS - 1);
    }
}

//! The coordinator: turns one client request into replica requests and
//! decides when it has enough answers.
//!
//! Any node coordinates any key. It sends to every replica in the key's
//! preference list at once (itself included, through the same
//! [`LocalReplica`] a peer would reach) and answers as soon as R (or W)
//! replicas have answered, or with [`Unavailable`] once that can no longer
//! happen or `request_timeout` has passed. Replica requests run in their own
//! tasks, so a write still reaches slow replicas after the client has its
//! answer, and a 503'd write may well have been applied somewhere: clients
//! must treat it as indeterminate.

use crate::clock::NodeClock;
use crate::config::{ReadRepairConfig, ReadRepairMode};
use crate::hints::Hints;
use crate::metrics::Metrics;
use crate::peer::{PeerClient, PeerError, PeerRequest, PeerResponse};
use crate::replica::LocalReplica;
use crate::ring::Ring;
use crate::types::{ConflictMode, Key, NodeId};
use crate::version::context::ClientContext;
use crate::version::{CausalContext, LwwRecord, Record};
#[cfg(feature = "zoo")]
use crate::zoo::{self, Bug};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

/// Fewer replicas than required answered in time (a 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unavailable: {acked} of {required} required replicas answered")]
pub struct Unavailable {
    pub required: usize,
    pub acked: usize,
}

/// Coordinates client requests for this node.
pub struct Coordinator {
    pub me: NodeId,
    pub ring: Ring,
    pub local: LocalReplica,
    pub peers: HashMap<NodeId, Arc<PeerClient>>,
    pub mode: ConflictMode,
    pub request_timeout: Duration,
    pub clock: Arc<NodeClock>,
    pub read_repair: ReadRepairConfig,
    /// Hinted handoff for replicas that miss a write.
    pub hints: Arc<Hints>,
    pub metrics: Arc<Metrics>,
}

impl Coordinator {
    /// Reads `key` from R replicas; `None` if no replica has it.
    pub async fn read(
        self: &Arc<Self>,
        key: &Key,
        r: usize,
    ) -> Result<Option<Record>, Unavailable> {
        let deadline = Instant::now() + self.request_timeout;
        let replicas = self.ring.preference_list(key);
        let mut answers = self.fan_out(&replicas, PeerRequest::Read { key: key.clone() }, deadline);
        let mut merged: Option<Record> = None;
        let mut replied: Vec<(NodeId, Option<Record>)> = Vec::with_capacity(replicas.len());
        while replied.len() < r {
            match answers.next(deadline).await {
                Some((node, PeerResponse::Read(record))) => {
                    if let Some(record) = &record {
                        merged = Some(Record::merge_into(merged.as_ref(), record));
                    }
                    replied.push((node, record));
                }
                Some(_) => {}
                None => {
                    return Err(Unavailable {
                        required: r,
                        acked: replied.len(),
                    });
                }
            }
        }
        // Answers that are already in count towards the repair too.
        while let Some((node, PeerResponse::Read(record))) = answers.try_next() {
            if let Some(record) = &record {
                merged = Some(Record::merge_into(merged.as_ref(), record));
            }
            replied.push((node, record));
        }
        // zoo: local-read-wins — answer with this node's own replica's
        // record (when it replied) instead of the merge of every answer.
        #[cfg(feature = "zoo")]
        if zoo::active(Bug::LocalReadWins)
            && let Some((_, local)) = replied.iter().find(|(node, _)| *node == self.me)
        {
            merged = local.clone();
        }
        if let Some(merged) = &merged {
            self.read_repair(key, merged, &replied, deadline).await;
        }
        Ok(merged)
    }

    /// Writes `merged` back to every replica that replied with something
    /// older (or nothing), per `[read_repair]`. The replica merges it, so a
    /// repair can never replace a newer version or drop an unseen sibling.
    async fn read_repair(
        self: &Arc<Self>,
        key: &Key,
        merged: &Record,
        replied: &[(NodeId, Option<Record>)],
        deadline: Instant,
    ) {
        let mode = self.read_repair.mode;
        if mode == ReadRepairMode::Off || !chance(self.read_repair.chance) {
            return;
        }
        let stale: Vec<NodeId> = replied
            .iter()
            .filter(|(_, record)| record.as_ref() != Some(merged))
            .map(|(node, _)| node.clone())
            .collect();
        if stale.is_empty() {
            return;
        }
        self.metrics.record_read_repair(mode, stale.len());
        let record = merged.clone();
        // zoo: read-repair-overwrites — write the merged value back as a
        // fresh write stamped now, so the replica's version comparison
        // cannot refuse it even over a newer write the read never saw.
        #[cfg(feature = "zoo")]
        let record = match record {
            Record::Lww(r) if zoo::active(Bug::ReadRepairOverwrites) => Record::Lww(LwwRecord {
                timestamp: self.clock.now(),
                ..r
            }),
            other => other,
        };
        let request = PeerRequest::Merge {
            key: key.clone(),
            record,
        };
        let mut answers = self.fan_out(&stale, request, deadline);
        if mode == ReadRepairMode::Blocking {
            while answers.next(deadline).await.is_some() {}
        }
    }

    /// Writes `value` (`None` deletes) to W replicas; returns the context
    /// the client should use to supersede this write.
    ///
    /// An LWW write is acknowledged only once W replicas hold it as their
    /// winning version. A replica that already holds a newer-stamped one
    /// answers `Newer`, and the write is stamped again above it and resent
    /// (CockroachDB pushes a write that meets a newer version the same way,
    /// its WriteTooOld). Any write acknowledged before this one began is
    /// held by W replicas, and W + W > N of them overlap this write's, so
    /// under quorum writes a later write always outranks an earlier one,
    /// however far the clock that stamped the earlier one ran ahead. The
    /// HLC alone cannot promise that: a node that has not yet heard from a
    /// faster clock stamps below a write it never saw.
    pub async fn write(
        self: &Arc<Self>,
        key: &Key,
        value: Option<String>,
        context: ClientContext,
        w: usize,
    ) -> Result<ClientContext, Unavailable> {
        let deadline = Instant::now() + self.request_timeout;
        let replicas = self.ring.preference_list(key);
        // zoo: early-ack — acknowledge after the first replica's ack.
        #[cfg(feature = "zoo")]
        let w = if zoo::active(Bug::EarlyAck) { 1 } else { w };
        match context {
            ClientContext::Lww(_) => {
                let mut timestamp = self.clock.now();
                // zoo: lww-wall-clock — stamp the raw (skewable) wall clock,
                // not the HLC, and take a replica's merge as its ack even
                // when a newer version won there, as Cassandra's
                // server-side timestamps do.
                #[cfg(feature = "zoo")]
                let wall_clock = zoo::active(Bug::LwwWallClock);
                #[cfg(not(feature = "zoo"))]
                let wall_clock = false;
                if wall_clock {
                    timestamp = crate::clock::HlcTimestamp {
                        physical_us: self.clock.wall_us(),
                        logical: 0,
                    };
                }
                loop {
                    let record = Record::Lww(LwwRecord {
                        timestamp,
                        coordinator: self.me.clone(),
                        value: value.clone(),
                    });
                    match self
                        .replicate(&replicas, key, record, 0, w, deadline)
                        .await?
                    {
                        Replicated::Newer(stored) if !wall_clock => {
                            self.metrics.record_lww_push();
                            timestamp = self.clock.now().max(stored.successor());
                        }
                        _ => return Ok(ClientContext::Lww(Some(timestamp))),
                    }
                }
            }
            ClientContext::Dvv(seen) => {
                let (record, returned, minter) =
                    self.mint(key, &replicas, seen, value, deadline, w).await?;
                let targets: Vec<NodeId> = replicas.into_iter().filter(|n| *n != minter).collect();
                // Merging siblings never loses a DVV write, so no replica
                // answers `Newer`.
                self.replicate(&targets, key, record, 1, w, deadline)
                    .await?;
                Ok(ClientContext::Dvv(returned))
            }
        }
    }

    /// Sends `record` to `targets` until `acked` (acks already counted,
    /// the minter's) reaches `w`; stops early at the first replica that
    /// holds a newer LWW version.
    async fn replicate(
        self: &Arc<Self>,
        targets: &[NodeId],
        key: &Key,
        record: Record,
        mut acked: usize,
        w: usize,
        deadline: Instant,
    ) -> Result<Replicated, Unavailable> {
        // Replicas that miss this write get a hint (never counted towards W).
        let mut answers = self.fan_out_hinted(targets, key, record, deadline);
        while acked < w {
            match answers.next(deadline).await {
                Some((_, PeerResponse::Merged)) => acked += 1,
                Some((_, PeerResponse::Newer(stored))) => return Ok(Replicated::Newer(stored)),
                Some(_) => {}
                None => return Err(Unavailable { required: w, acked }),
            }
        }
        Ok(Replicated::Acked)
    }

    /// DVV: has one replica of `key` mint the write's dot from its local
    /// state; this node if it is a replica, else the first replica in
    /// preference order that answers.
    ///
    /// The next replica is asked only when the previous one certainly did
    /// not mint (it refused, or was never reached). After a failure that may
    /// follow an applied mint (the connection dropped after the request went
    /// out, the deadline passed) the write is answered 503, indeterminate:
    /// minting it again elsewhere would turn one client write into two
    /// siblings.
    async fn mint(
        &self,
        key: &Key,
        replicas: &[NodeId],
        seen: CausalContext,
        value: Option<String>,
        deadline: Instant,
        w: usize,
    ) -> Result<(Record, CausalContext, NodeId), Unavailable> {
        let written_ms = self.clock.wall_ms();
        let mut order: Vec<&NodeId> = replicas.iter().filter(|n| **n == self.me).collect();
        order.extend(replicas.iter().filter(|n| **n != self.me));
        for node in order {
            let request = PeerRequest::Mint {
                key: key.clone(),
                context: seen.clone(),
                value: value.clone(),
                written_ms,
            };
            match self.try_mint(node, request, deadline).await {
                MintAttempt::Minted(record, context) => {
                    return Ok((record, context, node.clone()));
                }
                MintAttempt::NotApplied if Instant::now() < deadline => {}
                MintAttempt::NotApplied | MintAttempt::Unknown => break,
            }
        }
        Err(Unavailable {
            required: w,
            acked: 0,
        })
    }

    /// One mint request, classified by whether it may have been applied.
    async fn try_mint(
        &self,
        node: &NodeId,
        request: PeerRequest,
        deadline: Instant,
    ) -> MintAttempt {
        let answer = if *node == self.me {
            timeout_at(deadline, self.local.handle(request)).await.ok()
        } else {
            let Some(peer) = self.peers.get(node) else {
                return MintAttempt::NotApplied;
            };
            match peer.call(request, deadline).await {
                Ok(answer) => Some(answer),
                // Never sent, or refused at the handshake.
                Err(PeerError::Unreachable(..) | PeerError::Refused(..)) => {
                    return MintAttempt::NotApplied;
                }
                Err(e @ (PeerError::ConnectionLost(_) | PeerError::Timeout(_))) => {
                    tracing::debug!(error = %e, "mint outcome unknown; not retrying elsewhere");
                    None
                }
            }
        };
        match answer {
            Some(PeerResponse::Minted { record, context }) => MintAttempt::Minted(record, context),
            // The replica answered that it could not mint: nothing applied.
            Some(PeerResponse::Failed(reason)) => {
                tracing::debug!(%node, %reason, "replica could not mint");
                MintAttempt::NotApplied
            }
            Some(_) | None => MintAttempt::Unknown,
        }
    }

    /// Sends `request` to every node in `targets`, each in its own task.
    fn fan_out(
        self: &Arc<Self>,
        targets: &[NodeId],
        request: PeerRequest,
        deadline: Instant,
    ) -> Answers {
        let (tx, rx) = mpsc::channel(targets.len().max(1));
        for node in targets {
            let this = self.clone();
            let node = node.clone();
            let request = request.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let answer = this.call(&node, request, deadline).await;
                let _ = tx.send((node, answer)).await;
            });
        }
        Answers {
            rx,
            outstanding: targets.len(),
        }
    }

    /// Like [`Self::fan_out`] for a write: a replica that does not
    /// acknowledge by the deadline gets a hint, stored after the fact so the
    /// client's answer never waits for it.
    fn fan_out_hinted(
        self: &Arc<Self>,
        targets: &[NodeId],
        key: &Key,
        record: Record,
        deadline: Instant,
    ) -> Answers {
        let (tx, rx) = mpsc::channel(targets.len().max(1));
        for node in targets {
            let this = self.clone();
            let node = node.clone();
            let key = key.clone();
            let record = record.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let request = PeerRequest::Write {
                    key: key.clone(),
                    record: record.clone(),
                };
                let answer = this.call(&node, request, deadline).await;
                // A replica that holds a newer version has this one too.
                let acked = matches!(answer, Some(PeerResponse::Merged | PeerResponse::Newer(_)));
                let _ = tx.send((node.clone(), answer)).await;
                if node != this.me {
                    if acked {
                        this.hints.note_reachable(&node);
                    } else {
                        this.hints.store(&node, key, record).await;
                    }
                }
            });
        }
        Answers {
            rx,
            outstanding: targets.len(),
        }
    }

    /// One replica request; `None` if it failed or timed out.
    async fn call(
        &self,
        node: &NodeId,
        request: PeerRequest,
        deadline: Instant,
    ) -> Option<PeerResponse> {
        let response = if *node == self.me {
            timeout_at(deadline, self.local.handle(request)).await.ok()
        } else {
            let peer = self.peers.get(node)?;
            match peer.call(request, deadline).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::debug!(error = %e, "replica request failed");
                    None
                }
            }
        };
        match response {
            Some(PeerResponse::Failed(reason)) => {
                tracing::debug!(%node, %reason, "replica could not serve request");
                None
            }
            other => other,
        }
    }
}

/// How [`Coordinator::replicate`] ended, when it did not fail.
enum Replicated {
    /// W replicas merged the record and it won on each.
    Acked,
    /// A replica already held a newer LWW version, stamped so.
    Newer(crate::clock::HlcTimestamp),
}

/// How one mint request ended.
enum MintAttempt {
    Minted(Record, CausalContext),
    /// Certainly not applied: another replica may mint instead.
    NotApplied,
    /// Possibly applied: minting elsewhere could duplicate the write.
    Unknown,
}

/// Answers of a fan-out, as they arrive.
struct Answers {
    rx: mpsc::Receiver<(NodeId, Option<PeerResponse>)>,
    outstanding: usize,
}

impl Answers {
    /// The next successful answer; `None` once every replica has failed or
    /// answered, or at the deadline.
    async fn next(&mut self, deadline: Instant) -> Option<(NodeId, PeerResponse)> {
        while self.outstanding > 0 {
            match timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((node, answer))) => {
                    self.outstanding -= 1;
                    if let Some(answer) = answer {
                        return Some((node, answer));
                    }
                }
                _ => return None,
            }
        }
        None
    }

    /// A successful answer that has already arrived, without waiting.
    fn try_next(&mut self) -> Option<(NodeId, PeerResponse)> {
        while self.outstanding > 0 {
            let Ok((node, answer)) = self.rx.try_recv() else {
                return None;
            };
            self.outstanding -= 1;
            if let Some(answer) = answer {
                return Some((node, answer));
            }
        }
        None
    }
}

/// True with probability `p` (splitmix64 over a global counter: cheap, and
/// good enough to spread probabilistic read repair over reads).
fn chance(p: f64) -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);
    if p >= 1.0 {
        return true;
    }
    if p <= 0.0 {
        return false;
    }
    let z = crate::mix::finalize(STATE.fetch_add(crate::mix::GOLDEN_GAMMA, Ordering::Relaxed));
    ((z >> 11) as f64 / (1u64 << 53) as f64) < p
}

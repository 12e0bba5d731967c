//! [`Initiator`]: the side of a session that decides what to compare and what
//! to move.
//!
//! A pass walks the key-hash trie top-down. For each node still differing the
//! initiator decides from what it holds and what the responder reported: drop
//! it (equal), push everything under it (the peer has nothing there), pull
//! everything (this side has nothing), or keep it, which makes the responder
//! split it (several entries there) or describe its entries by digest (one
//! entry). Digests are resolved key by key in `resolve.rs`. The pass ends
//! when no node is left; the next `Open` checks the full-width roots, and a
//! fresh pass runs if they still differ.

use super::hash::{Fingerprint, Fingerprinter};
use super::resolve::resolve;
use super::session::{Mode, SessionConfig, SessionError, answers_with_digests};
use super::stats::SessionStats;
use super::store::{HashSpan, RangeStore, WireEntry};
use super::wire::{
    Occupancy, Request, Response, WireDigest, encoded_len, pack_bits, unpack_occupancy,
};
use crate::mix::SplitMix64;

/// Entries per `full` chunk the initiator aims for.
const FULL_CHUNK_ENTRIES: u64 = 4096;

/// A frontier node and what the responder reported for it.
struct Pending {
    span: HashSpan,
    occupancy: Occupancy,
    fp: Fingerprint,
}

/// What the initiator is waiting for.
enum Phase {
    /// `start` not called yet.
    Idle,
    /// An `Open` is out.
    AwaitRoot,
    /// A `Step` is out; these nodes were kept (split or described).
    AwaitStep(Vec<Pending>),
    /// A `FullChunk` is out for chunk `index` of `2^bits`.
    AwaitFull { bits: u8, index: u64 },
    /// Finished.
    Done,
}

/// The initiator's state for one session.
pub struct Initiator {
    config: SessionConfig,
    phase: Phase,
    /// Draws one salt per pass.
    salts: SplitMix64,
    /// The current pass's map; `None` before the first `Open`.
    fingerprinter: Option<Fingerprinter>,
    /// Nodes to decide on before the next `Step`, in the responder's
    /// frontier order.
    pending: Vec<Pending>,
    /// Entries to push with the next `Step`.
    push: Vec<WireEntry>,
    /// Positions (in the last response's digests) to pull with the next `Step`.
    pull: Vec<u32>,
    /// Root checks sent so far (the first opens the session, later ones close
    /// a pass).
    opens: u32,
    stats: SessionStats,
}

impl Initiator {
    /// A session that has not started.
    pub fn new(config: SessionConfig) -> Initiator {
        Initiator {
            config,
            phase: Phase::Idle,
            salts: SplitMix64(config.seed),
            fingerprinter: None,
            pending: Vec::new(),
            push: Vec::new(),
            pull: Vec::new(),
            opens: 0,
            stats: SessionStats {
                ranges_compared: 1,
                ..SessionStats::default()
            },
        }
    }

    /// Counters so far (final once [`Initiator::is_done`]).
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// Whether the session has finished.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The first request. Every session opens by comparing roots (so `full`
    /// mode still reports whether the range differed).
    pub fn start<S: RangeStore>(&mut self, _store: &S) -> Result<Request, SessionError<S::Error>> {
        let open = self.open();
        Ok(self.sent(open))
    }

    /// Takes the responder's answer, merges what it carried, and returns the
    /// next request, or `None` when the session is over.
    pub fn on_response<S: RangeStore>(
        &mut self,
        store: &mut S,
        response: Response,
    ) -> Result<Option<Request>, SessionError<S::Error>> {
        self.stats.bytes_received += encoded_len(&response) as u64;
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let next = match (phase, response) {
            (Phase::AwaitRoot, Response::Root { hash, count }) => {
                self.on_root(store, u64::from_le_bytes(hash), count)?
            }
            (
                Phase::AwaitStep(kept),
                Response::Step {
                    left,
                    occupancy,
                    digests,
                    entries,
                },
            ) => {
                self.receive(store, entries)?;
                self.on_step(store, kept, left, &occupancy, digests)?;
                self.plan_step(store)?
            }
            (Phase::AwaitFull { bits, index }, Response::FullChunk { entries }) => {
                self.receive(store, entries)?;
                self.full_chunk(store, bits, index + 1)?
            }
            _ => {
                return Err(SessionError::Protocol(
                    "response does not answer the request",
                ));
            }
        };
        Ok(next.map(|request| self.sent(request)))
    }

    fn sent(&mut self, request: Request) -> Request {
        self.stats.round_trips += 1;
        self.stats.bytes_sent += encoded_len(&request) as u64;
        if let Request::Step { push: entries, .. } | Request::FullChunk { entries, .. } = &request {
            self.stats.keys_sent += entries.len() as u64;
            self.stats.entry_bytes_sent += entries.iter().map(encoded_len).sum::<usize>() as u64;
        }
        request
    }

    fn receive<S: RangeStore>(
        &mut self,
        store: &mut S,
        entries: Vec<WireEntry>,
    ) -> Result<(), SessionError<S::Error>> {
        self.stats.keys_received += entries.len() as u64;
        self.stats.entry_bytes_received += entries.iter().map(encoded_len).sum::<usize>() as u64;
        for entry in entries {
            store.merge(entry)?;
        }
        Ok(())
    }

    fn open(&mut self) -> Request {
        self.opens += 1;
        let salt = self.salts.next_u64();
        self.fingerprinter = Some(Fingerprinter::new(salt));
        self.phase = Phase::AwaitRoot;
        Request::Open { salt }
    }

    fn on_root<S: RangeStore>(
        &mut self,
        store: &S,
        hash: u64,
        count: u64,
    ) -> Result<Option<Request>, SessionError<S::Error>> {
        let mine = store.tree().root();
        let differs = mine.hash != hash || mine.count != count;
        if self.opens == 1 && differs {
            self.stats.ranges_differing = 1;
        }
        if self.config.mode == Mode::Full {
            let bits = full_chunk_bits(mine.count.max(count));
            self.stats.passes = 1;
            return self.full_chunk(store, bits, 0);
        }
        if !differs {
            self.phase = Phase::Done;
            return Ok(None);
        }
        if self.stats.passes >= u64::from(self.config.max_passes) {
            self.stats.ranges_unconverged = 1;
            self.phase = Phase::Done;
            return Ok(None);
        }
        self.stats.passes += 1;
        let fp = self.fingerprinter()?.fingerprint(hash);
        self.pending = vec![Pending {
            span: HashSpan::ALL,
            occupancy: Occupancy::of(count),
            fp,
        }];
        self.plan_step(store)
    }

    fn fingerprinter<E: std::error::Error>(&self) -> Result<&Fingerprinter, SessionError<E>> {
        self.fingerprinter
            .as_ref()
            .ok_or(SessionError::Protocol("no pass open"))
    }

    /// Decides on every pending node and builds the next `Step`; when nothing
    /// is left to ask or move, opens the closing root check instead.
    fn plan_step<S: RangeStore>(
        &mut self,
        store: &S,
    ) -> Result<Option<Request>, SessionError<S::Error>> {
        let fingerprinter = self
            .fingerprinter
            .as_ref()
            .ok_or(SessionError::Protocol("no pass open"))?;
        let mut keep = Vec::with_capacity(self.pending.len());
        let mut kept = Vec::new();
        let mut pull_all = Vec::new();
        for (position, node) in std::mem::take(&mut self.pending).into_iter().enumerate() {
            let mine = store.summary(node.span)?;
            let equal = Occupancy::of(mine.count) == node.occupancy
                && fingerprinter.fingerprint(mine.hash) == node.fp;
            if equal {
                keep.push(false);
            } else if node.occupancy == Occupancy::Empty {
                self.push.extend(store.entries_in(node.span)?);
                keep.push(false);
            } else if mine.count == 0 {
                pull_all.push(position as u32);
                keep.push(false);
            } else {
                keep.push(true);
                kept.push(node);
            }
        }
        if kept.is_empty() && pull_all.is_empty() && self.push.is_empty() && self.pull.is_empty() {
            return Ok(Some(self.open()));
        }
        self.phase = Phase::AwaitStep(kept);
        Ok(Some(Request::Step {
            keep: pack_bits(&keep),
            pull_all,
            pull: std::mem::take(&mut self.pull),
            push: std::mem::take(&mut self.push),
        }))
    }

    /// Turns the answers about kept nodes into the next pending nodes (split)
    /// or into pushes and pulls (described).
    fn on_step<S: RangeStore>(
        &mut self,
        store: &S,
        kept: Vec<Pending>,
        left: Vec<[u8; 2]>,
        occupancy: &[u8],
        digests: Vec<Vec<WireDigest>>,
    ) -> Result<(), SessionError<S::Error>> {
        let occupancy = unpack_occupancy(occupancy, 2 * left.len()).ok_or(
            SessionError::Protocol("occupancy does not match the splits"),
        )?;
        let mut occupancy = occupancy.into_iter();
        let fingerprinter = self
            .fingerprinter
            .as_ref()
            .ok_or(SessionError::Protocol("no pass open"))?;
        let mut left = left.into_iter();
        let mut digests = digests.into_iter();
        let mut described = 0u32;
        for node in kept {
            if answers_with_digests(node.span, node.occupancy) {
                let theirs = digests
                    .next()
                    .ok_or(SessionError::Protocol("missing digests"))?;
                let mine = store.digests_in(node.span)?;
                let n = theirs.len() as u32;
                resolve(
                    store,
                    fingerprinter,
                    mine,
                    theirs,
                    described,
                    &mut self.push,
                    &mut self.pull,
                )?;
                described += n;
                continue;
            }
            let l = left.next().map(Fingerprint::from_bytes);
            let (Some(l), Some(lo), Some(ro)) = (l, occupancy.next(), occupancy.next()) else {
                return Err(SessionError::Protocol("missing child summary"));
            };
            let (Some(ls), Some(rs)) = (node.span.child(false), node.span.child(true)) else {
                return Err(SessionError::Protocol("split a single key hash"));
            };
            // Right = parent XOR left: the map is linear, so the right
            // fingerprint never travels.
            self.pending.push(Pending {
                span: ls,
                occupancy: lo,
                fp: l,
            });
            self.pending.push(Pending {
                span: rs,
                occupancy: ro,
                fp: node.fp.xor(l),
            });
        }
        if left.next().is_some() || digests.next().is_some() {
            return Err(SessionError::Protocol("more answers than questions"));
        }
        Ok(())
    }

    /// The `full` request for chunk `index` of `2^bits`, or `None` past the end.
    fn full_chunk<S: RangeStore>(
        &mut self,
        store: &S,
        bits: u8,
        index: u64,
    ) -> Result<Option<Request>, SessionError<S::Error>> {
        if index >= 1u64 << bits {
            self.phase = Phase::Done;
            return Ok(None);
        }
        let span = HashSpan {
            level: bits,
            prefix: index,
        };
        let entries = store.entries_in(span)?;
        self.phase = Phase::AwaitFull { bits, index };
        Ok(Some(Request::FullChunk {
            level: bits,
            prefix: index,
            entries,
        }))
    }
}

/// Chunk bits so a `full` chunk holds about [`FULL_CHUNK_ENTRIES`] entries.
fn full_chunk_bits(count: u64) -> u8 {
    let chunks = count.div_ceil(FULL_CHUNK_ENTRIES).max(1);
    // ceil(log2(chunks)), capped so a chunk index stays small.
    (64 - (chunks - 1).leading_zeros()).min(20) as u8
}

//! [`Responder`]: the passive side of a session.
//!
//! It keeps the frontier (the trie nodes still under comparison, in the order
//! both sides agree on, with the occupancy it reported for each) and the key
//! hashes of the digests it last sent, so the initiator can address nodes with
//! one bit each and entries by position instead of naming them. One
//! `Responder` per session; the node keeps it between RPCs, keyed by session
//! id, and drops it on timeout.

use super::hash::{Fingerprinter, KeyHash};
use super::session::{SessionError, answers_with_digests, wire_digest};
use super::store::{HashSpan, RangeStore, WireEntry};
use super::wire::{Occupancy, Request, Response, pack_occupancy, unpack_bits};

/// The responder's state for one session.
#[derive(Default)]
pub struct Responder {
    /// Map of the current pass; `None` before the first `Open`.
    fingerprinter: Option<Fingerprinter>,
    /// Nodes still being compared, with the occupancy this side reported for
    /// each (not re-read: a write racing the session must not make the two
    /// sides interpret the next request differently).
    frontier: Vec<(HashSpan, Occupancy)>,
    /// Key hashes of the digests in the last response, flattened, in order.
    described: Vec<KeyHash>,
}

impl Responder {
    /// A responder waiting for `Open` or `FullChunk`.
    pub fn new() -> Responder {
        Responder::default()
    }

    /// Answers one request, merging any pushed entries into `store`.
    pub fn handle<S: RangeStore>(
        &mut self,
        store: &mut S,
        request: Request,
    ) -> Result<Response, SessionError<S::Error>> {
        match request {
            Request::Open { salt } => {
                self.fingerprinter = Some(Fingerprinter::new(salt));
                let root = store.tree().root();
                self.frontier = vec![(HashSpan::ALL, Occupancy::of(root.count))];
                self.described.clear();
                Ok(Response::Root {
                    hash: root.hash.to_le_bytes(),
                    count: root.count,
                })
            }
            Request::Step {
                keep,
                pull_all,
                pull,
                push,
            } => self.step(store, &keep, &pull_all, &pull, push),
            Request::FullChunk {
                level,
                prefix,
                entries,
            } => {
                if level > 64 || (level < 64 && prefix >> level != 0) {
                    return Err(SessionError::Protocol("full chunk span out of range"));
                }
                let mine = store.entries_in(HashSpan { level, prefix })?;
                for entry in entries {
                    store.merge(entry)?;
                }
                Ok(Response::FullChunk { entries: mine })
            }
        }
    }

    fn step<S: RangeStore>(
        &mut self,
        store: &mut S,
        keep: &[u8],
        pull_all: &[u32],
        pull: &[u32],
        push: Vec<WireEntry>,
    ) -> Result<Response, SessionError<S::Error>> {
        let fingerprinter = self
            .fingerprinter
            .as_ref()
            .ok_or(SessionError::Protocol("step before open"))?;
        let keep = unpack_bits(keep, self.frontier.len()).ok_or(SessionError::Protocol(
            "fewer keep bits than frontier nodes",
        ))?;
        let mut entries = Vec::new();
        for &position in pull_all {
            let (span, _) = self
                .frontier
                .get(position as usize)
                .ok_or(SessionError::Protocol("pull_all names no frontier node"))?;
            entries.extend(store.entries_in(*span)?);
        }
        for &position in pull {
            let key = self
                .described
                .get(position as usize)
                .ok_or(SessionError::Protocol("pull names no digest sent"))?;
            entries.extend(store.entries_with_key_hash(*key)?);
        }
        let mut left = Vec::new();
        let mut occupancy = Vec::new();
        let mut digests = Vec::new();
        let mut described = Vec::new();
        let mut next = Vec::new();
        for (&(span, reported), kept) in self.frontier.iter().zip(keep) {
            if !kept {
                continue;
            }
            if answers_with_digests(span, reported) {
                let mine = store.digests_in(span)?;
                described.extend(mine.iter().map(|d| d.key_hash));
                digests.push(mine.iter().map(|d| wire_digest(fingerprinter, d)).collect());
                continue;
            }
            let (Some(l), Some(r)) = (span.child(false), span.child(true)) else {
                return Err(SessionError::Protocol("split below a single key hash"));
            };
            let (ls, rs) = (store.summary(l)?, store.summary(r)?);
            left.push(fingerprinter.fingerprint(ls.hash).to_bytes());
            let (lo, ro) = (Occupancy::of(ls.count), Occupancy::of(rs.count));
            occupancy.extend([lo, ro]);
            next.extend([(l, lo), (r, ro)]);
        }
        // Answer first, merge after: the initiator gets what this replica held,
        // so a key both sides changed concurrently travels once each way.
        for entry in push {
            store.merge(entry)?;
        }
        self.frontier = next;
        self.described = described;
        Ok(Response::Step {
            left,
            occupancy: pack_occupancy(&occupancy),
            digests,
            entries,
        })
    }
}

//! The messages of an anti-entropy session, as they cross the wire.
//!
//! The node ships these inside its internode RPC (postcard, like the rest of
//! its peer traffic). Fields are laid out for size: fingerprints and key
//! hashes are fixed byte arrays (postcard would spend up to 10 bytes on a
//! random `u64` varint), counts are varints (small below the top levels),
//! per-node decisions are bits, and entries the responder described are
//! named by position rather than by key.

use serde::{Deserialize, Serialize};

use super::store::WireEntry;

/// Initiator → responder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Start (or verify after) a pass: the responder answers with its root
    /// and draws the fingerprint map from `salt`.
    Open {
        /// Seeds the per-pass fingerprint map (`hash::Fingerprinter`).
        salt: u64,
    },
    /// One round of the top-down comparison.
    Step {
        /// One bit per node of the responder's frontier: set = still
        /// differing. The responder answers a kept node holding more than one
        /// entry with its left child's summary, one holding a single entry
        /// (or a single key hash) with its digests; both sides know the
        /// counts, so neither needs to say which.
        keep: Vec<u8>,
        /// Frontier positions whose entries the initiator wants wholesale (it
        /// has none there). Not set in `keep`.
        pull_all: Vec<u32>,
        /// Positions, in the previous response's digests (flattened), of
        /// entries the initiator wants.
        pull: Vec<u32>,
        /// Entries the responder lacks or holds older; it merges them.
        push: Vec<WireEntry>,
    },
    /// `full` mode: every entry of one key-hash span, both ways.
    FullChunk {
        /// Span level (leading key-hash bits fixed).
        level: u8,
        /// Span prefix.
        prefix: u64,
        /// All of the initiator's entries in the span.
        entries: Vec<WireEntry>,
    },
}

/// Responder → initiator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The responder's root: full-width hash, so "equal" is final.
    Root {
        /// XOR of all entry hashes, little-endian.
        hash: [u8; 8],
        /// Number of entries in the range.
        count: u64,
    },
    /// Answers to a [`Request::Step`], in frontier order.
    Step {
        /// The fingerprint of the left child of each kept node that was
        /// split; the initiator derives the right one (parent XOR left).
        left: Vec<[u8; 2]>,
        /// The `Occupancy` of both children of each split node (left,
        /// right), packed four to a byte. Exact counts would cost a varint of
        /// up to three bytes per child; the protocol only needs to know
        /// empty, one entry, or more.
        occupancy: Vec<u8>,
        /// The entry digests under each kept node that was not split.
        digests: Vec<Vec<WireDigest>>,
        /// Entries asked for by `pull_all` and `pull`, as held before the
        /// pushed entries were merged.
        entries: Vec<WireEntry>,
    },
    /// The responder's entries in the span of a [`Request::FullChunk`], as
    /// held before merging the initiator's.
    FullChunk {
        /// All of the responder's entries in the span.
        entries: Vec<WireEntry>,
    },
}

/// How many entries a subtree holds, as far as a session cares: nothing
/// (push everything there), one (ask for its digest), or more (split).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occupancy {
    /// No entry.
    Empty = 0,
    /// Exactly one entry.
    Single = 1,
    /// Two or more.
    Many = 2,
}

impl Occupancy {
    /// The occupancy of a subtree holding `count` entries.
    pub fn of(count: u64) -> Occupancy {
        match count {
            0 => Occupancy::Empty,
            1 => Occupancy::Single,
            _ => Occupancy::Many,
        }
    }
}

/// Packs occupancies four to a byte.
pub fn pack_occupancy(all: &[Occupancy]) -> Vec<u8> {
    all.chunks(4)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u8, |b, (i, o)| b | ((*o as u8) << (2 * i)))
        })
        .collect()
}

/// Unpacks `n` occupancies; `None` if `packed` is too short or malformed.
pub fn unpack_occupancy(packed: &[u8], n: usize) -> Option<Vec<Occupancy>> {
    if packed.len() * 4 < n {
        return None;
    }
    (0..n)
        .map(|i| match (packed[i / 4] >> (2 * (i % 4))) & 0b11 {
            0 => Some(Occupancy::Empty),
            1 => Some(Occupancy::Single),
            2 => Some(Occupancy::Many),
            _ => None,
        })
        .collect()
}

/// One entry's digest on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDigest {
    /// `Fingerprinter::key_tail` (`hash.rs`) of
    /// the key hash, little-endian. The initiator matches its own few entries
    /// of the node on these, and names the entry by position when pulling it.
    pub key_tail: [u8; 4],
    /// Fingerprint of the entry hash.
    pub entry_fp: [u8; 2],
    /// The encoded version.
    pub version: Vec<u8>,
}

/// Packs one bit per node, eight to a byte.
pub fn pack_bits(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u8, |b, (i, set)| b | (u8::from(*set) << i))
        })
        .collect()
}

/// Unpacks `n` bits; `None` if `packed` is too short.
pub fn unpack_bits(packed: &[u8], n: usize) -> Option<Vec<bool>> {
    if packed.len() * 8 < n {
        return None;
    }
    Some(
        (0..n)
            .map(|i| packed[i / 8] & (1 << (i % 8)) != 0)
            .collect(),
    )
}

/// Encoded size of a message in bytes (postcard), for the traffic counters.
pub fn encoded_len<T: Serialize>(message: &T) -> usize {
    // Serializing to a size counter cannot fail for these types (no maps with
    // non-string keys, no unsized sequences); 0 would only under-count.
    postcard::experimental::serialized_size(message).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_through_packing() {
        let bits = [true, false, false, true, true, false, true, false, true];
        let packed = pack_bits(&bits);
        assert_eq!(packed.len(), 2);
        assert_eq!(unpack_bits(&packed, bits.len()).unwrap(), bits);
        assert_eq!(unpack_bits(&packed, 17), None);
    }

    #[test]
    fn occupancy_round_trips_through_packing_and_rejects_garbage() {
        let all = [
            Occupancy::Many,
            Occupancy::Empty,
            Occupancy::Single,
            Occupancy::Many,
            Occupancy::Single,
        ];
        let packed = pack_occupancy(&all);
        assert_eq!(packed.len(), 2);
        assert_eq!(unpack_occupancy(&packed, all.len()).unwrap(), all);
        assert_eq!(unpack_occupancy(&packed, 9), None);
        assert_eq!(unpack_occupancy(&[0b11], 1), None);
        assert_eq!(
            [0, 1, 2, 9].map(Occupancy::of),
            [
                Occupancy::Empty,
                Occupancy::Single,
                Occupancy::Many,
                Occupancy::Many
            ]
        );
    }

    #[test]
    fn encoded_len_matches_postcard_output() {
        let msg = Response::Step {
            left: vec![[1, 2]],
            occupancy: vec![0b1001],
            digests: vec![vec![WireDigest {
                key_tail: [9; 4],
                entry_fp: [4; 2],
                version: vec![1, 2],
            }]],
            entries: vec![WireEntry {
                key: b"k1".to_vec(),
                record: vec![0; 40],
            }],
        };
        assert_eq!(encoded_len(&msg), postcard::to_stdvec(&msg).unwrap().len());
    }
}

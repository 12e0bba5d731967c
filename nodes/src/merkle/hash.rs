//! The two hashes anti-entropy is built on, and the per-session fingerprint.
//!
//! - [`KeyHash`] places a key in the tree. It must be independent of the ring
//!   hash: every key of one token range shares a narrow arc of ring tokens, so
//!   bucketing by the ring hash would pile a whole range into a few leaves.
//! - [`EntryHash`] identifies one stored state of a key: key, version bytes,
//!   value digests and the tombstone flag. Two replicas holding the same key at
//!   different versions, or one deleted and one not, get different hashes.
//! - [`Fingerprinter`] shortens 64-bit hashes to [`FP_BITS`] bits for the
//!   wire with a random *linear* map chosen per session, so a parent's
//!   fingerprint is the XOR of its children's (the responder then sends one
//!   child per split, the initiator derives the other) and a collision of two
//!   different hashes in one session says nothing about the next session.
//!
//! Both hashes are xxh3-64 with fixed seeds: specified, stable across builds
//! and platforms (unlike `std`'s hasher), and fast enough (~10 GB/s on long
//! values) to run on every write.

use crate::mix::SplitMix64;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_64_with_seed};

/// Seed of [`key_hash`]; any fixed value that differs from the entry seed.
const KEY_SEED: u64 = 0x6d65_726b_6c65_6b65; // "merkleke"
/// Seed of [`entry_hash`].
const ENTRY_SEED: u64 = 0x6d65_726b_6c65_656e; // "merkleen"

/// Where a key sits in the Merkle trie: its top bits pick the leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyHash(pub u64);

/// The hash of one stored entry (key, version, value digests, tombstone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntryHash(pub u64);

/// Hashes a key's bytes for tree placement.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash(xxh3_64_with_seed(key, KEY_SEED))
}

/// Hashes what a replica holds for `key`.
///
/// `version` is the node's encoded version (LWW timestamp or DVV clock),
/// `values` the stored values (DVV siblings in the node's canonical order; an
/// empty slice for a tombstone that keeps no value). Each field is length
/// prefixed so no two different entries share an input stream.
pub fn entry_hash(key: &[u8], version: &[u8], values: &[&[u8]], tombstone: bool) -> EntryHash {
    let mut h = Xxh3::with_seed(ENTRY_SEED);
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key);
    h.update(&(version.len() as u64).to_le_bytes());
    h.update(version);
    h.update(&(values.len() as u64).to_le_bytes());
    for value in values {
        // A digest per value keeps the state small however large values are.
        h.update(&xxh3_64(value).to_le_bytes());
    }
    h.update(&[u8::from(tombstone)]);
    EntryHash(h.digest())
}

/// Width of a wire fingerprint. A differing subtree looks equal with
/// probability 2^-16 per comparison; the session's closing full-width root
/// check catches that and runs another pass, with a fresh map, over what is
/// still different. At 1,000 differing keys in 1,000,000 a pass makes about
/// 10,000 such comparisons, so roughly one session in seven needs a short
/// second pass; in exchange each comparison costs 2 bytes instead of 8.
pub const FP_BITS: u32 = 16;
const FP_MASK: u32 = (1 << FP_BITS) - 1;

/// A fingerprint of a node hash under one session's linear map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub u32);

impl Fingerprint {
    /// The fingerprint of the XOR of two hashes (the map is linear).
    pub fn xor(self, other: Fingerprint) -> Fingerprint {
        Fingerprint(self.0 ^ other.0)
    }

    /// Wire form: two little-endian bytes (postcard would varint a `u32`).
    pub fn to_bytes(self) -> [u8; 2] {
        let b = self.0.to_le_bytes();
        [b[0], b[1]]
    }

    /// Inverse of [`Fingerprint::to_bytes`].
    pub fn from_bytes(b: [u8; 2]) -> Fingerprint {
        Fingerprint(u32::from(u16::from_le_bytes(b)))
    }
}

/// A random linear map GF(2)^64 → GF(2)^16, drawn from a session salt.
///
/// Stored as eight byte-indexed tables: `fp(h) = T0[h0] ^ … ^ T7[h7]`. Every
/// table entry is a XOR of random columns, so `fp(a ^ b) = fp(a) ^ fp(b)` and a
/// non-zero difference maps to zero with probability 2^-16 over the salt.
#[derive(Clone)]
pub struct Fingerprinter {
    tables: Box<[[u32; 256]; 8]>,
    /// Salts [`Fingerprinter::key_tail`].
    tail_salt: u64,
}

impl Fingerprinter {
    /// Draws the map for `salt`; both sides of a session use the same salt.
    pub fn new(salt: u64) -> Fingerprinter {
        let mut rng = SplitMix64(salt);
        let mut tables = Box::new([[0u32; 256]; 8]);
        for table in tables.iter_mut() {
            let columns: [u32; 8] = std::array::from_fn(|_| (rng.next_u64() as u32) & FP_MASK);
            for (byte, slot) in table.iter_mut().enumerate() {
                *slot = columns
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| byte & (1 << bit) != 0)
                    .fold(0, |acc, (_, col)| acc ^ col);
            }
        }
        let tail_salt = rng.next_u64();
        Fingerprinter { tables, tail_salt }
    }

    /// The 32-bit stand-in for a key hash in a digest. Salted per pass, so
    /// two keys of one node that collide here (about 2^-32 per pair) collide
    /// in one pass only, and the next pass tells them apart.
    pub fn key_tail(&self, key: KeyHash) -> u32 {
        (SplitMix64(key.0 ^ self.tail_salt).next_u64() >> 32) as u32
    }

    /// The fingerprint of a 64-bit node hash.
    pub fn fingerprint(&self, hash: u64) -> Fingerprint {
        let bytes = hash.to_le_bytes();
        let mut fp = 0;
        for (table, byte) in self.tables.iter().zip(bytes) {
            fp ^= table[usize::from(byte)];
        }
        Fingerprint(fp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_linear_over_xor() {
        let f = Fingerprinter::new(7);
        let mut rng = SplitMix64(1);
        for _ in 0..1000 {
            let (a, b) = (rng.next_u64(), rng.next_u64());
            assert_eq!(f.fingerprint(a ^ b), f.fingerprint(a).xor(f.fingerprint(b)));
        }
        assert_eq!(f.fingerprint(0), Fingerprint(0));
    }

    #[test]
    fn fingerprint_round_trips_through_two_bytes() {
        let f = Fingerprinter::new(99);
        let fp = f.fingerprint(0xdead_beef_cafe_f00d);
        assert_eq!(Fingerprint::from_bytes(fp.to_bytes()), fp);
    }

    #[test]
    fn key_tails_are_salted_per_pass() {
        // A collision of two tails must not repeat in the next pass.
        let (one, two) = (Fingerprinter::new(1), Fingerprinter::new(2));
        let keys: Vec<KeyHash> = (0..100)
            .map(|i| key_hash(format!("k{i}").as_bytes()))
            .collect();
        let differ = keys
            .iter()
            .filter(|k| one.key_tail(**k) != two.key_tail(**k))
            .count();
        assert!(
            differ >= 99,
            "only {differ} of 100 tails changed with the salt"
        );
    }

    #[test]
    fn entry_hash_covers_every_field() {
        let base = entry_hash(b"k", b"v1", &[b"x"], false);
        assert_ne!(base, entry_hash(b"k2", b"v1", &[b"x"], false));
        assert_ne!(base, entry_hash(b"k", b"v2", &[b"x"], false));
        assert_ne!(base, entry_hash(b"k", b"v1", &[b"y"], false));
        assert_ne!(base, entry_hash(b"k", b"v1", &[b"x"], true));
        assert_ne!(base, entry_hash(b"k", b"v1", &[b"x", b"x"], false));
        assert_eq!(base, entry_hash(b"k", b"v1", &[b"x"], false));
    }

    #[test]
    fn key_hash_is_pinned() {
        // Replicas must agree on placement: changing the hash is a protocol change.
        assert_eq!(key_hash(b"k12"), KeyHash(0x95d3_fe7a_3c22_a61e));
        assert_eq!(
            entry_hash(b"k12", b"v", &[b"x"], true),
            EntryHash(0xa5c8_f42b_5632_2454)
        );
    }
}

//! Digest resolution: given the entries both sides hold under one small trie
//! node, decide which entries travel which way.
//!
//! A key on one side only travels to the other. A key on both sides with
//! different entries travels from the newer side only
//! ([`RangeStore::version_order`]), both ways when neither is newer (DVV
//! siblings) or the versions are equal. Equal entries stay put.

use std::collections::BTreeMap;

use super::hash::{Fingerprint, Fingerprinter};
use super::session::SessionError;
use super::store::{EntryDigest, RangeStore, VersionOrder, WireEntry};
use super::wire::WireDigest;

/// What each side holds of one key (normally one entry on either side).
#[derive(Default)]
struct KeyGroup {
    mine: Vec<EntryDigest>,
    /// The responder's digests with their positions in the response.
    theirs: Vec<(u32, WireDigest)>,
}

/// Resolves one node. `theirs` are the responder's digests for it, the first
/// at position `first` of the response's flattened digests; pulls name those
/// positions. Entries to push are appended to `push`, positions to pull to
/// `pull`.
pub(crate) fn resolve<S: RangeStore>(
    store: &S,
    fingerprinter: &Fingerprinter,
    mine: Vec<EntryDigest>,
    theirs: Vec<WireDigest>,
    first: u32,
    push: &mut Vec<WireEntry>,
    pull: &mut Vec<u32>,
) -> Result<(), SessionError<S::Error>> {
    // Matched on the salted 32-bit key tails the wire carries. Two different
    // keys of one node sharing a tail (~2^-32 per pair) land in one group and
    // may be paired wrongly; the closing root check then still differs, and
    // the next pass, with a fresh salt, tells them apart.
    let mut by_tail: BTreeMap<u32, KeyGroup> = BTreeMap::new();
    for d in mine {
        by_tail
            .entry(fingerprinter.key_tail(d.key_hash))
            .or_default()
            .mine
            .push(d);
    }
    for (i, d) in theirs.into_iter().enumerate() {
        let group = by_tail.entry(u32::from_le_bytes(d.key_tail)).or_default();
        group.theirs.push((first + i as u32, d));
    }
    for KeyGroup { mine, theirs } in by_tail.into_values() {
        let my_fp = mine.iter().fold(Fingerprint(0), |fp, d| {
            fp.xor(fingerprinter.fingerprint(d.entry_hash.0))
        });
        let their_fp = theirs.iter().fold(Fingerprint(0), |fp, (_, d)| {
            fp.xor(Fingerprint::from_bytes(d.entry_fp))
        });
        let (send_mine, take_theirs) = match (mine.as_slice(), theirs.as_slice()) {
            (_, []) => (true, false),
            ([], _) => (false, true),
            _ if my_fp == their_fp && mine.len() == theirs.len() => (false, false),
            ([m], [(_, t)]) => match store.version_order(&m.version, &t.version) {
                VersionOrder::Newer => (true, false),
                VersionOrder::Older => (false, true),
                VersionOrder::Same | VersionOrder::Concurrent => (true, true),
            },
            _ => (true, true),
        };
        if send_mine {
            let mut keys: Vec<_> = mine.iter().map(|d| d.key_hash).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                push.extend(store.entries_with_key_hash(key)?);
            }
        }
        if take_theirs {
            pull.extend(theirs.iter().map(|(position, _)| *position));
        }
    }
    Ok(())
}

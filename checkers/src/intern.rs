//! String interning into one arena, for keys and values.
//!
//! A 10M-op history holds millions of distinct values. One heap `String` per
//! value (24 bytes + an allocation) plus a `HashMap<String, u32>` costs ~100
//! bytes each; here the text lives in one byte arena and the hash table holds
//! small fixed-size slots (hash, offset, length, id), about 40 bytes per value
//! in all, and a lookup touches the table and the arena only. Checkers then
//! compare ids, never text.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// A table slot: everything needed to compare and rehash without touching
/// `ends` (each access there is a likely cache miss on big histories).
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    start: usize,
    len: u32,
    id: u32,
}

/// Interns strings as dense `u32` ids, in first-seen order.
#[derive(Debug, Default)]
pub struct Interner {
    /// All interned text, back to back.
    bytes: String,
    /// `ends[i]` is where string `i` ends in `bytes`; it starts at `ends[i-1]`.
    ends: Vec<usize>,
    table: HashTable<Slot>,
    hasher: DefaultHashBuilder,
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The id of `s`, interning it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        let bytes = &self.bytes;
        let same = |slot: &Slot| {
            slot.hash == hash
                && slot.len as usize == s.len()
                && &bytes[slot.start..slot.start + s.len()] == s
        };
        if let Some(slot) = self.table.find(hash, same) {
            return slot.id;
        }
        let id = self.ends.len() as u32;
        let slot = Slot {
            hash,
            start: self.bytes.len(),
            len: s.len() as u32,
            id,
        };
        self.table.insert_unique(hash, slot, |slot| slot.hash);
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        id
    }

    /// Appends `s` under a new id without indexing it, for strings that a
    /// caller indexes itself (see [`ValueInterner`]).
    fn push_unindexed(&mut self, s: &str) -> u32 {
        let id = self.ends.len() as u32;
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        id
    }

    /// The id of `s` if it was interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.table
            .find(hash, |slot| slot.hash == hash && self.resolve(slot.id) == s)
            .map(|slot| slot.id)
    }

    /// The text of an id from this interner.
    pub fn resolve(&self, id: u32) -> &str {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// An interner with a fast path for the shapes converge's workloads write:
/// values `"<process>-<seq>"` and keys `"k<n>"` (canonical decimals) are
/// looked up in arrays indexed by their numbers instead of the hash table.
/// A process's writes come in `seq` order and reads mostly return recent
/// values, so the arrays stay in cache and a lookup costs no hashing and no
/// string comparison. Any other string goes through the hash table. Which
/// path a string takes depends only on the string, so the same text always
/// gets the same id.
#[derive(Debug)]
pub struct DenseInterner {
    text: Interner,
    /// `dense[row][n / CHUNK][n % CHUNK]`: the id, or `u32::MAX`.
    dense: Vec<Vec<Option<Box<[u32; CHUNK]>>>>,
    shape: fn(&str) -> Option<(usize, usize)>,
}

/// Interns values (`"<process>-<seq>"` fast path).
pub type ValueInterner = DenseInterner;
/// Interns keys (`"k<n>"` fast path).
pub type KeyInterner = DenseInterner;

impl Default for DenseInterner {
    fn default() -> Self {
        DenseInterner::values()
    }
}

const CHUNK: usize = 1024;
/// Bounds for the dense path; values beyond them use the hash table.
const MAX_PROCESS: u64 = 1 << 16;
const MAX_SEQ: u64 = 1 << 32;

/// A canonical decimal below `max` (no sign, no leading zeros).
fn decimal(d: &str, max: u64) -> Option<u64> {
    let canonical = !d.is_empty()
        && d.len() <= 10
        && d.bytes().all(|b| b.is_ascii_digit())
        && (d == "0" || !d.starts_with('0'));
    let n: u64 = if canonical {
        d.parse().ok()?
    } else {
        return None;
    };
    (n < max).then_some(n)
}

/// `(process, seq)` if `s` is a canonical `"<process>-<seq>"`.
fn canonical(s: &str) -> Option<(usize, usize)> {
    let (p, q) = s.split_once('-')?;
    Some((
        decimal(p, MAX_PROCESS)? as usize,
        decimal(q, MAX_SEQ)? as usize,
    ))
}

/// `(0, n)` if `s` is a canonical `"k<n>"`.
fn canonical_key(s: &str) -> Option<(usize, usize)> {
    Some((0, decimal(s.strip_prefix('k')?, MAX_SEQ)? as usize))
}

impl DenseInterner {
    /// An interner for values.
    pub fn values() -> DenseInterner {
        DenseInterner {
            text: Interner::new(),
            dense: Vec::new(),
            shape: canonical,
        }
    }

    /// An interner for keys.
    pub fn keys() -> DenseInterner {
        DenseInterner {
            text: Interner::new(),
            dense: Vec::new(),
            shape: canonical_key,
        }
    }

    /// The id of `s`, interning it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        let Some((p, seq)) = (self.shape)(s) else {
            return self.text.intern(s);
        };
        if self.dense.len() <= p {
            self.dense.resize_with(p + 1, Vec::new);
        }
        let row = &mut self.dense[p];
        let (c, i) = (seq / CHUNK, seq % CHUNK);
        if row.len() <= c {
            row.resize_with(c + 1, || None);
        }
        let chunk = row[c].get_or_insert_with(|| Box::new([u32::MAX; CHUNK]));
        if chunk[i] == u32::MAX {
            chunk[i] = self.text.push_unindexed(s);
        }
        chunk[i]
    }

    /// The id of `s` if it was interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        let Some((p, seq)) = (self.shape)(s) else {
            return self.text.get(s);
        };
        let id = (*self.dense.get(p)?.get(seq / CHUNK)?.as_ref()?)[seq % CHUNK];
        (id != u32::MAX).then_some(id)
    }

    pub fn resolve(&self, id: u32) -> &str {
        self.text.resolve(id)
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_id_and_round_trips() {
        let mut i = Interner::new();
        let a = i.intern("3-0");
        let b = i.intern("k12");
        assert_ne!(a, b);
        assert_eq!(i.intern("3-0"), a);
        assert_eq!(i.resolve(b), "k12");
        assert_eq!(i.get("k12"), Some(b));
        assert_eq!(i.get("nope"), None);
        let e = i.intern("");
        assert_eq!(i.resolve(e), "");
        for n in 0..10_000 {
            let id = i.intern(&format!("v{n}"));
            assert_eq!(i.resolve(id), format!("v{n}"));
        }
        assert_eq!(i.len(), 10_003);
    }

    #[test]
    fn values_get_one_id_whichever_path_they_take() {
        let mut v = DenseInterner::values();
        let texts = [
            "3-0",
            "3-1",
            "0-0",
            "03-1",
            "3-01",
            "3-",
            "-1",
            "x",
            "3-1-2",
            "70000-1",
            "1-4294967296",
            "12-5000",
        ];
        let ids: Vec<u32> = texts.iter().map(|t| v.intern(t)).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), texts.len());
        for (t, id) in texts.iter().zip(&ids) {
            assert_eq!(v.intern(t), *id);
            assert_eq!(v.get(t), Some(*id));
            assert_eq!(v.resolve(*id), *t);
        }
        assert_eq!(v.get("3-2"), None);
        assert_eq!(v.get("9-9"), None);
        assert_eq!(canonical("3-01"), None);
        assert_eq!(canonical("12-5000"), Some((12, 5000)));
        let mut k = DenseInterner::keys();
        let texts = ["k0", "k12", "k012", "key", "k", "12", "k-1"];
        let ids: Vec<u32> = texts.iter().map(|t| k.intern(t)).collect();
        for (t, id) in texts.iter().zip(&ids) {
            assert_eq!(k.intern(t), *id);
            assert_eq!(k.resolve(*id), *t);
        }
        assert_eq!(k.len(), texts.len());
    }
}

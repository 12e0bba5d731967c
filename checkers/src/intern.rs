//! String interning into one arena, for keys and values.
//!
//! A 10M-op history holds millions of distinct values. One heap `String` per
//! value (24 bytes + an allocation) plus a `HashMap<String, u32>` costs ~100
//! bytes each; here the text lives in one byte arena and the hash table holds
//! only 4-byte ids, about 20 bytes per value in all. Checkers then compare
//! ids, never text.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// Interns strings as dense `u32` ids, in first-seen order.
#[derive(Debug, Default)]
pub struct Interner {
    /// All interned text, back to back.
    bytes: String,
    /// `ends[i]` is where string `i` ends in `bytes`; it starts at `ends[i-1]`.
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The id of `s`, interning it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        let Interner {
            bytes,
            ends,
            table,
            hasher,
        } = self;
        let text = |id: u32| span(bytes, ends, id);
        if let Some(&id) = table.find(hash, |&id| text(id) == s) {
            return id;
        }
        let id = ends.len() as u32;
        table.insert_unique(hash, id, |&other| hasher.hash_one(span(bytes, ends, other)));
        bytes.push_str(s);
        ends.push(bytes.len());
        id
    }

    /// The id of `s` if it was interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(s);
        self.table
            .find(hash, |&id| span(&self.bytes, &self.ends, id) == s)
            .copied()
    }

    /// The text of an id from this interner.
    pub fn resolve(&self, id: u32) -> &str {
        span(&self.bytes, &self.ends, id)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

fn span<'a>(bytes: &'a str, ends: &[usize], id: u32) -> &'a str {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
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
}

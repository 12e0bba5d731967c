//! Slicing a sweep across machines: `--shard I/N` runs only the I-th of N
//! slices of the cell × seed list, so a Kubernetes Indexed Job or a CI
//! matrix can split one sweep over many workers without a scheduler.
//!
//! The slices are a pure function of the matrix: the list is cell-major,
//! seed-minor (the order `converge sweep --plan` prints), and slice I holds
//! the runs at positions I, I+N, I+2N, ... — round robin, so every slice
//! gets a share of every cell and the slices finish at about the same time.
//! What other slices did never changes a slice, so a slice can be rerun
//! (and resumes) on its own. I counts from 0, as `JOB_COMPLETION_INDEX`
//! does.

use std::fmt;
use std::str::FromStr;

/// One slice of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: u32,
    pub count: u32,
}

/// Why `I/N` is not a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shard {0:?} must be I/N with 0 <= I < N, e.g. 0/4 (I counts from 0)")]
pub struct ShardError(String);

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the run at `position` of the full list belongs to this slice.
    pub fn holds(&self, position: usize) -> bool {
        position % self.count as usize == self.index as usize
    }

    /// This slice of `items` (in the full list's order).
    pub fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.holds(*i))
            .map(|(_, t)| t)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_bad_ones_are_named() {
        assert_eq!("1/4".parse(), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1", "a/4", "0/0", "-1/4"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn the_slices_partition_the_list_and_do_not_depend_on_each_other() {
        let all: Vec<usize> = (0..23).collect();
        let mut seen: Vec<usize> = (0..4)
            .flat_map(|i| Shard { index: i, count: 4 }.slice(all.clone()))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, all);
        let s = Shard { index: 2, count: 4 };
        assert_eq!(s.slice(all.clone()), vec![2, 6, 10, 14, 18, 22]);
        // The same slice whatever else ran: a pure function of the list.
        assert_eq!(s.slice(all.clone()), s.slice(all));
    }
}

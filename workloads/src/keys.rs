//! Which key an op touches: Zipf over K keys, plus a uniform share.
//!
//! Real key spaces are skewed: a few hot keys take most traffic, and that is
//! where concurrent writes, siblings and lost updates happen. But cold keys
//! matter too — a key written once during a partition and never read again is
//! only repaired by anti-entropy — so a configurable share of ops picks its
//! key uniformly.

use crate::config::{WorkloadConfig, WorkloadError};
use rand::RngExt;
use rand_distr::{Distribution, Zipf};
use std::fmt;

/// A key by its number; the wire name is `k<n>`. Key `k0` is the hottest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub u64);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "k{}", self.0)
    }
}

/// Draws keys: with probability `uniform_share` uniformly over all keys,
/// otherwise by Zipf rank (rank 1 is `k0`).
#[derive(Debug, Clone)]
pub struct KeyChooser {
    keys: u64,
    uniform_share: f64,
    zipf: Zipf<f64>,
}

impl KeyChooser {
    pub fn new(cfg: &WorkloadConfig) -> Result<KeyChooser, WorkloadError> {
        cfg.validate()?;
        // Validation above guarantees n >= 1 and a finite s >= 0, the only
        // inputs Zipf::new rejects.
        let zipf = Zipf::new(cfg.keys as f64, cfg.zipf_exponent)
            .map_err(|_| WorkloadError::Exponent(cfg.zipf_exponent))?;
        Ok(KeyChooser {
            keys: cfg.keys,
            uniform_share: cfg.uniform_share,
            zipf,
        })
    }

    /// Draws one key.
    pub fn choose(&self, rng: &mut impl rand::Rng) -> Key {
        if self.uniform_share > 0.0 && rng.random_bool(self.uniform_share) {
            return Key(rng.random_range(0..self.keys));
        }
        // Zipf samples a float rank in [1, keys]; clamp guards float edges.
        let rank = self.zipf.sample(rng) as u64;
        Key(rank.clamp(1, self.keys) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    fn counts(cfg: &WorkloadConfig, draws: usize) -> Vec<u64> {
        let chooser = KeyChooser::new(cfg).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut counts = vec![0u64; cfg.keys as usize];
        for _ in 0..draws {
            counts[chooser.choose(&mut rng).0 as usize] += 1;
        }
        counts
    }

    #[test]
    fn default_distribution_is_skewed_with_one_percent_of_keys_taking_most_ops() {
        let cfg = WorkloadConfig::default();
        let c = counts(&cfg, 200_000);
        let hot: u64 = c[..(cfg.keys as usize / 100)].iter().sum();
        assert!(hot > 100_000, "top 1% of keys got only {hot} of 200000");
        assert!(c[0] > c[1] && c[1] > c[50]);
    }

    #[test]
    fn uniform_share_touches_cold_keys() {
        let cfg = WorkloadConfig {
            keys: 100,
            zipf_exponent: 3.0,
            uniform_share: 0.5,
            ..WorkloadConfig::default()
        };
        let c = counts(&cfg, 50_000);
        assert!(c.iter().all(|&n| n > 0), "some key never drawn: {c:?}");
        let no_uniform = WorkloadConfig {
            uniform_share: 0.0,
            ..cfg
        };
        assert_eq!(counts(&no_uniform, 50_000)[99], 0);
    }

    #[test]
    fn keys_stay_in_range_for_one_key() {
        let cfg = WorkloadConfig {
            keys: 1,
            ..WorkloadConfig::default()
        };
        assert_eq!(counts(&cfg, 1000), vec![1000]);
    }
}

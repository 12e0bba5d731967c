//! Random delays for background work, so the nodes of a cluster do not act
//! in lockstep.
//!
//! Why it exists: nodes started together would otherwise run every periodic
//! task (anti-entropy rounds, tombstone scans) at the same instants for as
//! long as they live. Production nodes run them at unrelated moments, and
//! the window between two replicas' actions is exactly where repair bugs
//! live (a replica that purged a tombstone beside one that has not). The
//! randomness needs no quality beyond differing between nodes and calls, so
//! it is the clock's nanoseconds through splitmix64's finaliser ([`mix`]),
//! not a crate.

use crate::mix;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A random delay in `[0, bound)`; zero when `bound` is under a millisecond.
pub fn below(bound: Duration) -> Duration {
    let bound_ms = bound.as_millis() as u64;
    if bound_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(random_u64() % bound_ms)
}

fn random_u64() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    mix::finalize(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_below_the_bound_and_vary() {
        let bound = Duration::from_secs(15);
        let drawn: std::collections::HashSet<Duration> = (0..200)
            .map(|_| {
                let d = below(bound);
                assert!(d < bound, "{d:?}");
                std::thread::sleep(Duration::from_micros(50));
                d
            })
            .collect();
        assert!(drawn.len() > 100, "only {} distinct delays", drawn.len());
        assert_eq!(below(Duration::from_micros(900)), Duration::ZERO);
    }
}

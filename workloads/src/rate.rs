//! An optional total rate limit, as a pure schedule.
//!
//! The harness shares one [`RateLimiter`] across all client processes and a
//! counter of ops started so far: op `n` may start at `n / rate` seconds after
//! the run began. Being a pure function of `(n, elapsed)` it needs no clock or
//! lock of its own and is trivially testable; closed-loop clients that fall
//! behind simply start their next op at once (no burst is "saved up" beyond
//! the schedule).

use crate::config::WorkloadError;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimiter {
    ops_per_sec: f64,
}

impl RateLimiter {
    /// A limiter for a total of `ops_per_sec` across all processes.
    pub fn new(ops_per_sec: f64) -> Result<RateLimiter, WorkloadError> {
        if ops_per_sec.is_finite() && ops_per_sec > 0.0 {
            Ok(RateLimiter { ops_per_sec })
        } else {
            Err(WorkloadError::Rate(ops_per_sec))
        }
    }

    pub fn ops_per_sec(&self) -> f64 {
        self.ops_per_sec
    }

    /// When op `n` (counting from 0, across all processes) may start,
    /// measured from the start of the run.
    pub fn start_at(&self, n: u64) -> Duration {
        Duration::from_secs_f64(n as f64 / self.ops_per_sec)
    }

    /// How long to wait before starting op `n`, `elapsed` into the run;
    /// zero when the schedule is already due.
    pub fn delay(&self, n: u64, elapsed: Duration) -> Duration {
        self.start_at(n).saturating_sub(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_spaces_ops_evenly() {
        let r = RateLimiter::new(100.0).unwrap();
        assert_eq!(r.start_at(0), Duration::ZERO);
        assert_eq!(r.start_at(250), Duration::from_millis(2500));
        assert_eq!(
            r.delay(10, Duration::from_millis(40)),
            Duration::from_millis(60)
        );
        assert_eq!(r.delay(10, Duration::from_secs(1)), Duration::ZERO);
    }

    #[test]
    fn nonsense_rates_are_rejected() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(RateLimiter::new(bad).is_err(), "{bad} accepted");
        }
    }
}

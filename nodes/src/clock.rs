//! This node's notion of time: the (skewable) wall clock and the hybrid
//! logical clock built on it.
//!
//! `PUT /admin/clock` sets an offset that shifts everything time-based on
//! this node (LWW timestamps, tombstone GC, hint expiry), which is how the
//! harness injects clock skew without touching the host clock.
//!
//! The HLC (Kulkarni et al.) gives LWW timestamps that follow real time at
//! microsecond resolution but never go backwards and always exceed every
//! timestamp this node has seen in a message, so a write that causally
//! follows another gets a larger timestamp even across skewed clocks.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A hybrid-logical-clock reading: physical microseconds since the Unix
/// epoch plus a logical counter that orders events within one microsecond.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct HlcTimestamp {
    pub physical_us: u64,
    pub logical: u32,
}

/// The node clock: wall clock + admin offset, and the HLC state.
#[derive(Debug, Default)]
pub struct NodeClock {
    offset_ms: AtomicI64,
    /// A std mutex: held for a few instructions, never across an await.
    last: Mutex<HlcTimestamp>,
}

impl NodeClock {
    /// A clock with offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The admin offset in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Sets the admin offset (`PUT /admin/clock`).
    pub fn set_offset_ms(&self, offset: i64) {
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// Skewed wall clock in microseconds since the epoch.
    pub fn wall_us(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i128)
            .unwrap_or(0);
        let skewed = real + i128::from(self.offset_ms()) * 1_000;
        skewed.clamp(0, i128::from(u64::MAX)) as u64
    }

    /// Skewed wall clock in milliseconds since the epoch.
    pub fn wall_ms(&self) -> u64 {
        self.wall_us() / 1_000
    }

    /// A fresh timestamp for a local event (a write this node coordinates).
    pub fn now(&self) -> HlcTimestamp {
        let wall = self.wall_us();
        let mut last = self.lock();
        *last = if wall > last.physical_us {
            HlcTimestamp {
                physical_us: wall,
                logical: 0,
            }
        } else {
            HlcTimestamp {
                physical_us: last.physical_us,
                logical: last.logical.saturating_add(1),
            }
        };
        *last
    }

    /// Advances the clock past a timestamp received in a message.
    pub fn observe(&self, seen: HlcTimestamp) {
        let mut last = self.lock();
        if seen > *last {
            *last = seen;
        }
    }

    /// The latest timestamp issued or observed, without advancing.
    pub fn peek(&self) -> HlcTimestamp {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HlcTimestamp> {
        // A poisoned lock only means another thread panicked mid-assignment
        // of a Copy value; the value is still a valid timestamp.
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_strictly_increase() {
        let clock = NodeClock::new();
        let mut prev = clock.now();
        for _ in 0..10_000 {
            let next = clock.now();
            assert!(next > prev);
            prev = next;
        }
    }

    #[test]
    fn observed_timestamps_are_exceeded() {
        let clock = NodeClock::new();
        let future = HlcTimestamp {
            physical_us: clock.wall_us() + 60_000_000,
            logical: 7,
        };
        clock.observe(future);
        assert!(clock.now() > future);
    }

    #[test]
    fn backward_skew_never_moves_timestamps_backwards() {
        let clock = NodeClock::new();
        let before = clock.now();
        clock.set_offset_ms(-3_600_000);
        assert!(clock.now() > before);
        assert!(clock.wall_ms() + 3_500_000 < before.physical_us / 1_000);
    }

    #[test]
    fn forward_skew_moves_physical_time() {
        let clock = NodeClock::new();
        let before = clock.now();
        clock.set_offset_ms(10_000);
        assert!(clock.now().physical_us >= before.physical_us + 9_000_000);
        assert_eq!(clock.offset_ms(), 10_000);
    }
}

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
//!
//! Three rules keep it honest across restarts and bad peers:
//! - at start the node seeds it with the largest timestamp it has stored
//!   ([`NodeClock::observe`]), so a node that ran skewed forward and
//!   restarted never stamps a write below one it already holds (that write
//!   would be acknowledged and never visible);
//! - an LWW write observes the timestamp in the client's context, so it is
//!   ordered after the version the client read;
//! - a reading received from outside (a peer frame, a client context) more
//!   than `cluster.max_clock_offset` ahead of this node's clock is refused,
//!   logged and counted ([`NodeClock::observe_remote`]), as CockroachDB
//!   does: otherwise one node with a wild clock drags every clock it talks
//!   to (and every later LWW timestamp) forward with it.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Default `cluster.max_clock_offset`: an order of magnitude above the
/// harness's clock faults (seconds), far below anything sane.
pub const DEFAULT_MAX_OFFSET: Duration = Duration::from_secs(60);

/// A hybrid-logical-clock reading: physical microseconds since the Unix
/// epoch plus a logical counter that orders events within one microsecond.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct HlcTimestamp {
    pub physical_us: u64,
    pub logical: u32,
}

impl HlcTimestamp {
    /// The smallest timestamp above this one.
    pub fn successor(self) -> HlcTimestamp {
        match self.logical.checked_add(1) {
            Some(logical) => HlcTimestamp { logical, ..self },
            None => HlcTimestamp {
                physical_us: self.physical_us.saturating_add(1),
                logical: 0,
            },
        }
    }
}

/// Where a remote clock reading came from (the metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// A client's LWW context.
    Client,
    /// A peer's request or response frame.
    Peer,
}

impl ClockSource {
    /// Every source, in metric order.
    pub const ALL: [ClockSource; 2] = [ClockSource::Client, ClockSource::Peer];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ClockSource::Client => "client",
            ClockSource::Peer => "peer",
        }
    }
}

/// A remote clock reading too far ahead to be observed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "clock reading is {ahead_ms} ms ahead of this node's clock, beyond max_clock_offset ({max_ms} ms)"
)]
pub struct ClockAhead {
    pub ahead_ms: u64,
    pub max_ms: u64,
}

/// The node clock: wall clock + admin offset, and the HLC state.
#[derive(Debug)]
pub struct NodeClock {
    offset_ms: AtomicI64,
    /// A std mutex: held for a few instructions, never across an await.
    last: Mutex<HlcTimestamp>,
    max_offset: Duration,
    /// Refused remote readings, by [`ClockSource`] (index in `ALL`).
    rejections: [AtomicU64; 2],
}

impl Default for NodeClock {
    fn default() -> Self {
        NodeClock::with_max_offset(DEFAULT_MAX_OFFSET)
    }
}

impl NodeClock {
    /// A clock with offset 0 and the default `max_clock_offset`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock with offset 0 refusing remote readings more than
    /// `max_offset` ahead.
    pub fn with_max_offset(max_offset: Duration) -> Self {
        NodeClock {
            offset_ms: AtomicI64::new(0),
            last: Mutex::new(HlcTimestamp::default()),
            max_offset,
            rejections: [AtomicU64::new(0), AtomicU64::new(0)],
        }
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

    /// Advances the clock to a trusted timestamp (one this node stored).
    pub fn observe(&self, seen: HlcTimestamp) {
        let mut last = self.lock();
        if seen > *last {
            *last = seen;
        }
    }

    /// Advances the clock to a timestamp received from `source`, unless it
    /// is more than `max_clock_offset` ahead of this node's wall clock: then
    /// the clock is left alone, the refusal counted and logged, and the
    /// caller refuses whatever carried it.
    pub fn observe_remote(
        &self,
        seen: HlcTimestamp,
        source: ClockSource,
    ) -> Result<(), ClockAhead> {
        let wall = self.wall_us();
        let max_us = u64::try_from(self.max_offset.as_micros()).unwrap_or(u64::MAX);
        if seen.physical_us > wall.saturating_add(max_us) {
            let ahead = ClockAhead {
                ahead_ms: (seen.physical_us - wall) / 1_000,
                max_ms: max_us / 1_000,
            };
            self.rejections[source as usize].fetch_add(1, Ordering::Relaxed);
            tracing::warn!(source = source.label(), error = %ahead, "refused a remote clock reading");
            return Err(ahead);
        }
        self.observe(seen);
        Ok(())
    }

    /// Remote readings refused so far from `source`.
    pub fn rejections(&self, source: ClockSource) -> u64 {
        self.rejections[source as usize].load(Ordering::Relaxed)
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
    fn remote_readings_beyond_the_max_offset_are_refused_and_counted() {
        let clock = NodeClock::with_max_offset(Duration::from_secs(10));
        let near = HlcTimestamp {
            physical_us: clock.wall_us() + 5_000_000,
            logical: 0,
        };
        assert_eq!(clock.observe_remote(near, ClockSource::Peer), Ok(()));
        assert!(clock.now() > near);
        let far = HlcTimestamp {
            physical_us: clock.wall_us() + 3_600_000_000,
            logical: 0,
        };
        let refused = clock.observe_remote(far, ClockSource::Client).unwrap_err();
        assert!(refused.ahead_ms >= 3_599_000 && refused.max_ms == 10_000);
        assert!(
            clock.now() < far,
            "a refused reading must not move the clock"
        );
        assert_eq!(clock.rejections(ClockSource::Client), 1);
        assert_eq!(clock.rejections(ClockSource::Peer), 0);
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

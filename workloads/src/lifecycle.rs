//! Key lifecycles: keys each process writes once, deletes, leaves alone, and
//! sometimes writes again once the tombstone may be gone.
//!
//! Why it exists: under Zipf traffic nearly every key is written again within
//! seconds of a delete, so a tombstone almost never sits untouched until
//! `gc_grace` purges it, and nothing in the test ever depends on the purge
//! being right. Yet that stretch is where the worst tombstone bugs live: a
//! hint of the write replayed after the purge (CASSANDRA-20014), a purged
//! tombstone's dots issued again (Riak's doomstone), a replica that missed the
//! delete copying the value back. A lifecycle key is deleted and then left
//! alone, so anything that brings it back is a resurrection no later write
//! can hide; half of them are written once more a little after `gc_grace`,
//! the moment a purged tombstone meets a new write, and read back
//! [`READ_BACK_AFTER`] later.
//!
//! The read-back is what catches a doomstone while it happens. A new write
//! whose re-issued dots a replica's unpurged tombstone covers lives on the
//! replicas that purged and is swallowed where the tombstone still is; it is
//! lost only if the tombstone reaches every holder of the write before its
//! own purge, and nothing but a slow anti-entropy round carried it there.
//! No Zipf read ever names a lifecycle key. A quorum read that meets the
//! tombstone answers "absent" for an acknowledged write (the read-based
//! lost-write), and its read repair carries the tombstone to the write's
//! holders, as a user's read would. Keys left deleted are never read: a read
//! repair of their tombstone would mend the very replica a tombstone bug
//! needs to leave stale.
//!
//! The schedule counts test time, not ops: a purge happens `gc_grace` after
//! the delete whatever the op rate, so the generator is told the elapsed time
//! with each op ([`super::OpStream::next_at`]). Everything else is drawn from
//! the lifecycle's own generator, so the Zipf ops draw the same keys and
//! kinds with lifecycles on or off, only interleaved with lifecycle steps.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

/// How long after a rewrite its key is read back: soon, because a replica
/// still holding the key's tombstone purges it within `gc_grace / 2`, and
/// after the rewrite was acknowledged (a process runs one op at a time).
pub const READ_BACK_AFTER: Duration = Duration::from_millis(500);

/// When each process runs a lifecycle step, and how its keys age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    /// Each process writes a new lifecycle key per this much test time.
    pub every: Duration,
    /// A key is deleted this long after it was written. Longer than a hint
    /// window, so a write hinted to a cut replica is followed by a delete
    /// that is not (else the replayed hints would carry the tombstone too).
    pub delete_after: Duration,
    /// Every other key is written again this long after its delete, plus up
    /// to half again: the reference node scans for purgeable tombstones
    /// every `gc_grace / 2`, so its replicas purge one tombstone at moments
    /// spread over that stretch, and a rewrite between two of them meets a
    /// replica that purged and one that did not. `None`: never. The harness
    /// sets it to the node's `gc_grace`.
    pub rewrite_after: Option<Duration>,
}

impl Default for LifecycleConfig {
    /// A new key every 250 ms per process, deleted 5 s after its write, no
    /// rewrites (the purge time is the node's, not the workload's).
    fn default() -> Self {
        LifecycleConfig {
            every: Duration::from_millis(250),
            delete_after: Duration::from_secs(5),
            rewrite_after: None,
        }
    }
}

/// What a lifecycle step does, to the key it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Write(String),
    Delete(String),
    Read(String),
}

/// One process's lifecycle keys, `d<process>-<n>`.
#[derive(Debug, Clone)]
pub(crate) struct Lifecycles {
    cfg: LifecycleConfig,
    process: u32,
    rng: Xoshiro256PlusPlus,
    /// The test time of the next new key.
    next_birth: Duration,
    /// How many keys were born; the next one is `d<process>-<born>`.
    born: u64,
    /// Keys written and not yet deleted, oldest first, with their due time.
    to_delete: VecDeque<(Duration, u64)>,
    /// Deleted keys to write again, by due time.
    to_rewrite: BinaryHeap<Reverse<(Duration, u64)>>,
    /// Rewritten keys to read back, oldest first, with their due time.
    to_read: VecDeque<(Duration, u64)>,
    /// The key of the delete just handed out, until its outcome is told.
    in_flight_delete: Option<u64>,
    /// Deletes that failed or may not have happened, to send again.
    retry: VecDeque<u64>,
    /// The earliest test time of the next retry: `every` after the last
    /// delete, so a retry does not run into the fault that failed it.
    next_retry: Duration,
}

impl Lifecycles {
    pub(crate) fn new(cfg: LifecycleConfig, seed: u64, process: u32) -> Lifecycles {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // Processes start at different phases of the step, so their steps
        // do not all land on the same instant.
        let first = cfg.every.mul_f64(rng.random::<f64>());
        Lifecycles {
            cfg,
            process,
            rng,
            next_birth: first,
            born: 0,
            to_delete: VecDeque::new(),
            to_rewrite: BinaryHeap::new(),
            to_read: VecDeque::new(),
            in_flight_delete: None,
            retry: VecDeque::new(),
            next_retry: Duration::ZERO,
        }
    }

    /// The step due at `elapsed`, if any: a due delete first, then a due
    /// rewrite, then a due read-back, each as soon as it is due (they come
    /// at the rate keys are born, so they need no cadence of their own),
    /// then a delete to retry
    /// (at most one per `every`), else a new key once per `every`. A delete
    /// must not wait for a free step: with one step per `every` shared by
    /// births and deletes, deletes would take every step for `delete_after`
    /// and births the next, and no key would be written in half the test.
    pub(crate) fn step(&mut self, elapsed: Duration) -> Option<Step> {
        self.in_flight_delete = None;
        if self.cfg.every.is_zero() {
            return None;
        }
        if let Some(&(due, n)) = self.to_delete.front()
            && due <= elapsed
        {
            self.to_delete.pop_front();
            if let Some(after) = self.cfg.rewrite_after
                && n % 2 == 0
            {
                let spread = (after / 2).mul_f64(self.rng.random::<f64>());
                let due = elapsed.saturating_add(after).saturating_add(spread);
                self.to_rewrite.push(Reverse((due, n)));
            }
            return Some(self.delete(n, elapsed));
        }
        if let Some(&Reverse((due, n))) = self.to_rewrite.peek()
            && due <= elapsed
        {
            self.to_rewrite.pop();
            let due = elapsed.saturating_add(READ_BACK_AFTER);
            self.to_read.push_back((due, n));
            return Some(Step::Write(self.key(n)));
        }
        if let Some(&(due, n)) = self.to_read.front()
            && due <= elapsed
        {
            self.to_read.pop_front();
            return Some(Step::Read(self.key(n)));
        }
        if elapsed >= self.next_retry
            && let Some(n) = self.retry.pop_front()
        {
            return Some(self.delete(n, elapsed));
        }
        if elapsed < self.next_birth {
            return None;
        }
        self.next_birth += self.cfg.every;
        if self.next_birth <= elapsed {
            // The process was stalled (a timeout, a dead node): skip the
            // missed births instead of bursting through them.
            self.next_birth = elapsed + self.cfg.every;
        }
        let n = self.born;
        self.born += 1;
        let due = elapsed.saturating_add(self.cfg.delete_after);
        self.to_delete.push_back((due, n));
        Some(Step::Write(self.key(n)))
    }

    /// What became of the op [`Lifecycles::step`] last handed out (or of the
    /// Zipf op after it, which this ignores): a lifecycle delete that was
    /// not acknowledged is sent again, so a key a fault kept alive is still
    /// deleted and left alone. A delete that may have happened (`info`) is
    /// sent again too; a second tombstone is harmless.
    pub(crate) fn completed(&mut self, acknowledged: bool) {
        if let Some(n) = self.in_flight_delete.take()
            && !acknowledged
        {
            self.retry.push_back(n);
        }
    }

    /// A delete of key `n`, sent at `elapsed`; a retry waits `every` after it.
    fn delete(&mut self, n: u64, elapsed: Duration) -> Step {
        self.in_flight_delete = Some(n);
        self.next_retry = elapsed.saturating_add(self.cfg.every);
        Step::Delete(self.key(n))
    }

    fn key(&self, n: u64) -> String {
        format!("d{}-{}", self.process, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Every step from 0 to `until`, polled every `tick`.
    fn steps(cfg: LifecycleConfig, until: Duration, tick: Duration) -> Vec<(Duration, Step)> {
        let mut l = Lifecycles::new(cfg, 7, 3);
        let mut out = Vec::new();
        let mut t = Duration::ZERO;
        while t <= until {
            if let Some(s) = l.step(t) {
                out.push((t, s));
            }
            t += tick;
        }
        out
    }

    #[test]
    fn keys_are_written_deleted_on_time_and_half_written_again_after_the_grace() {
        let cfg = LifecycleConfig {
            every: ms(250),
            delete_after: Duration::from_secs(5),
            rewrite_after: Some(Duration::from_secs(30)),
        };
        let all = steps(cfg, Duration::from_secs(60), ms(10));
        // About one new key per 250 ms, and births go on while the first
        // keys are deleted.
        let births = all
            .iter()
            .filter_map(|(_, s)| match s {
                Step::Write(k) => Some(k),
                Step::Delete(_) | Step::Read(_) => None,
            })
            .collect::<std::collections::HashSet<_>>()
            .len();
        assert!((235..=241).contains(&births), "{births} new keys");
        let in_second_five = |want: fn(&Step) -> bool| {
            all.iter()
                .filter(|(t, s)| *t >= ms(5000) && *t < ms(10_000) && want(s))
                .count()
        };
        assert!(in_second_five(|s| matches!(s, Step::Write(_))) >= 19);
        assert!(in_second_five(|s| matches!(s, Step::Delete(_))) >= 19);
        let when = |want: &dyn Fn(&Step) -> bool| -> Vec<Duration> {
            all.iter()
                .filter(|(_, s)| want(s))
                .map(|(t, _)| *t)
                .collect()
        };
        for n in 0..6u64 {
            let key = format!("d3-{n}");
            let writes = when(&|s| *s == Step::Write(key.clone()));
            let deletes = when(&|s| *s == Step::Delete(key.clone()));
            assert_eq!(deletes.len(), 1, "{key}: {all:?}");
            let lag = deletes[0] - writes[0];
            assert!(
                lag >= ms(5000) && lag < ms(5300),
                "{key} deleted after {lag:?}"
            );
            let reads = when(&|s| *s == Step::Read(key.clone()));
            if n % 2 == 0 {
                assert_eq!(writes.len(), 2, "{key} is written again");
                let idle = writes[1] - deletes[0];
                assert!(
                    idle >= ms(30_000) && idle < ms(45_300),
                    "{key} idle {idle:?}"
                );
                // Read back once, soon after the rewrite and not before it.
                assert_eq!(reads.len(), 1, "{key} is read back once: {all:?}");
                let lag = reads[0] - writes[1];
                assert!(
                    lag >= READ_BACK_AFTER && lag < READ_BACK_AFTER + ms(300),
                    "{key} read back {lag:?} after its rewrite"
                );
            } else {
                assert_eq!(writes.len(), 1, "{key} stays deleted");
                // A read repair would mend the replica a tombstone bug
                // leaves stale: keys left deleted are never read.
                assert!(reads.is_empty(), "{key} stays deleted and unread");
            }
        }
    }

    #[test]
    fn a_delete_not_acknowledged_is_sent_again_until_it_is() {
        let mut l = Lifecycles::new(LifecycleConfig::default(), 1, 0);
        let write = l.step(Duration::from_secs(1));
        assert_eq!(write, Some(Step::Write("d0-0".into())));
        l.completed(false); // a failed write is not retried
        let delete = Some(Step::Delete("d0-0".into()));
        assert_eq!(l.step(Duration::from_millis(6000)), delete);
        l.completed(false);
        // Not before `every` has passed (a new key comes first)...
        assert_eq!(
            l.step(Duration::from_millis(6100)),
            Some(Step::Write("d0-1".into()))
        );
        assert_eq!(l.step(Duration::from_millis(6200)), None);
        // ...then the retry, and once acknowledged, never again.
        assert_eq!(l.step(Duration::from_millis(6300)), delete);
        l.completed(true);
        for ms in (6400..20_000).step_by(100) {
            if let Some(s) = l.step(Duration::from_millis(ms)) {
                assert_ne!(s, Step::Delete("d0-0".into()), "at {ms} ms");
            }
        }
    }

    #[test]
    fn without_a_rewrite_time_deleted_keys_stay_deleted() {
        let all = steps(LifecycleConfig::default(), Duration::from_secs(60), ms(10));
        let mut written = std::collections::HashSet::new();
        for (_, s) in &all {
            match s {
                Step::Write(k) => assert!(written.insert(k.clone()), "{k} written twice"),
                Step::Read(k) => panic!("{k} read with no rewrite"),
                Step::Delete(_) => {}
            }
        }
    }

    #[test]
    fn a_stalled_process_skips_missed_births_and_zero_every_is_off() {
        let mut l = Lifecycles::new(LifecycleConfig::default(), 1, 0);
        assert_eq!(
            l.step(Duration::from_secs(10)),
            Some(Step::Write("d0-0".into()))
        );
        // Stalled for 10 s: one new key, not forty.
        assert!(l.step(Duration::from_secs(10)).is_none());
        // Its delete comes when due, whenever the process asks.
        assert_eq!(
            l.step(Duration::from_secs(30)),
            Some(Step::Delete("d0-0".into()))
        );
        let off = LifecycleConfig {
            every: Duration::ZERO,
            ..LifecycleConfig::default()
        };
        let mut l = Lifecycles::new(off, 1, 0);
        assert!(l.step(Duration::from_secs(10)).is_none());
    }
}

//! The per-process op streams.
//!
//! Each client process gets its own stream, seeded from `(seed, process)`, so
//! streams are independent of one another and of timing: process 3's tenth
//! Zipf op is the same in every run with the same seed, however the others
//! progress. Key lifecycle steps ([`crate::lifecycle`]) are interleaved by
//! test time, from a generator of their own.

use crate::config::{WorkloadConfig, WorkloadError, WorkloadKind};
use crate::keys::KeyChooser;
use crate::lifecycle::{Lifecycles, Step};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What an op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Read,
    Write,
    Delete,
}

/// One generated op, ready for a client to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub kind: OpKind,
    pub key: String,
    /// Writes only: `"<process>-<seq>"`, unique in the run, so a value read
    /// back names exactly one write.
    pub value: Option<String>,
    /// True for the causal workload's deletes and non-blind writes: the
    /// client must first GET the key, send that context with the op, and
    /// record the values the context observed.
    pub causal: bool,
}

/// A validated workload, from which any number of process streams are drawn.
#[derive(Debug, Clone)]
pub struct Workload {
    cfg: WorkloadConfig,
    keys: KeyChooser,
}

impl Workload {
    pub fn new(cfg: WorkloadConfig) -> Result<Workload, WorkloadError> {
        let keys = KeyChooser::new(&cfg)?;
        Ok(Workload { cfg, keys })
    }

    pub fn config(&self) -> &WorkloadConfig {
        &self.cfg
    }

    /// The infinite op stream of one client process.
    pub fn stream(&self, process: u32) -> OpStream {
        let seed = stream_seed(self.cfg.seed, process);
        OpStream {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            keys: self.keys.clone(),
            // A seed of its own, so the Zipf draws are the same with or
            // without lifecycles.
            lifecycles: self
                .cfg
                .lifecycle
                .map(|l| Lifecycles::new(l, seed ^ LIFECYCLE_SALT, process)),
            cfg: self.cfg.clone(),
            process,
            seq: 0,
        }
    }
}

/// Tells the lifecycle generator's seed from the Zipf stream's.
const LIFECYCLE_SALT: u64 = 0x6c69_6665_6379_636c;

/// Mixes the run seed and the process number (SplitMix64's finaliser) so
/// neighbouring processes get unrelated generator states.
fn stream_seed(seed: u64, process: u32) -> u64 {
    let mut z = seed ^ (u64::from(process) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One process's ops; infinite and deterministic per `(seed, process)`.
/// Xoshiro256++ is used rather than `StdRng` because its output is fixed by
/// its definition, so recorded seeds replay across rand upgrades.
#[derive(Debug, Clone)]
pub struct OpStream {
    rng: Xoshiro256PlusPlus,
    keys: KeyChooser,
    cfg: WorkloadConfig,
    lifecycles: Option<Lifecycles>,
    process: u32,
    /// How many ops this stream has produced; names write values.
    seq: u64,
}

impl OpStream {
    /// The op to send at test time `elapsed`: a lifecycle step if one is
    /// due, else the next Zipf op (what [`Iterator::next`] gives).
    pub fn next_at(&mut self, elapsed: Duration) -> Op {
        let Some(step) = self.lifecycles.as_mut().and_then(|l| l.step(elapsed)) else {
            return self.zipf_op();
        };
        let (kind, key) = match step {
            Step::Write(key) => (OpKind::Write, key),
            Step::Delete(key) => (OpKind::Delete, key),
            Step::Read(key) => (OpKind::Read, key),
        };
        let value = self.value_for(kind);
        // A lifecycle write creates its key (new, or deleted long ago), so
        // there is nothing to read first: it is blind, as an application
        // re-creating an object under a reused id writes it. That is the
        // write a purged tombstone's re-issued dots swallow (Riak's
        // doomstone), where a context read from a replica still holding the
        // tombstone would carry the old counter past them. A delete reads
        // what it removes, as every causal delete does.
        let causal = self.cfg.kind == WorkloadKind::Causal && kind == OpKind::Delete;
        Op {
            kind,
            key,
            value,
            causal,
        }
    }

    /// Tells the stream whether the op [`OpStream::next_at`] last gave was
    /// acknowledged (`ok`); a lifecycle delete that was not is sent again.
    /// Like Jepsen's generator updates: the ops that follow depend on what
    /// happened, not only on the seed.
    pub fn completed(&mut self, acknowledged: bool) {
        if let Some(l) = self.lifecycles.as_mut() {
            l.completed(acknowledged);
        }
    }

    /// The value of the stream's next op if it is a write,
    /// `"<process>-<seq>"`; every op, lifecycle or Zipf, counts one `seq`,
    /// so values stay unique across both.
    fn value_for(&mut self, kind: OpKind) -> Option<String> {
        let value = (kind == OpKind::Write).then(|| format!("{}-{}", self.process, self.seq));
        self.seq += 1;
        value
    }

    fn zipf_op(&mut self) -> Op {
        let key = self.keys.choose(&mut self.rng).to_string();
        let roll = self.rng.random_range(0..100u32);
        let mix = self.cfg.mix;
        let kind = if roll < mix.read {
            OpKind::Read
        } else if roll < mix.read + mix.write {
            OpKind::Write
        } else {
            OpKind::Delete
        };
        let value = self.value_for(kind);
        // Drawn only for the causal workload's writes, so register streams
        // (and causal reads and deletes) are what they were before blind
        // writes existed.
        let causal = match (self.cfg.kind, kind) {
            (WorkloadKind::Register, _) | (_, OpKind::Read) => false,
            (WorkloadKind::Causal, OpKind::Delete) => true,
            (WorkloadKind::Causal, OpKind::Write) => {
                self.rng.random::<f64>() >= self.cfg.blind_writes
            }
        };
        Op {
            kind,
            key,
            value,
            causal,
        }
    }
}

/// The Zipf ops alone, with no lifecycle steps (those need the test time).
impl Iterator for OpStream {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        Some(self.zipf_op())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mix;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_ops_and_processes_differ() {
        let w = Workload::new(WorkloadConfig::default()).unwrap();
        let a: Vec<Op> = w.stream(3).take(500).collect();
        let b: Vec<Op> = w.stream(3).take(500).collect();
        assert_eq!(a, b);
        let c: Vec<Op> = w.stream(4).take(500).collect();
        assert_ne!(a, c);
        let other_seed = Workload::new(WorkloadConfig {
            seed: 1,
            ..WorkloadConfig::default()
        })
        .unwrap();
        assert_ne!(a, other_seed.stream(3).take(500).collect::<Vec<_>>());
    }

    #[test]
    fn write_values_are_unique_across_processes() {
        let w = Workload::new(WorkloadConfig::default()).unwrap();
        let mut seen = HashSet::new();
        for p in 0..8 {
            for op in w.stream(p).take(2000) {
                assert_eq!(op.value.is_some(), op.kind == OpKind::Write);
                if let Some(v) = op.value {
                    assert!(seen.insert(v), "duplicate value");
                }
            }
        }
    }

    #[test]
    fn mix_is_respected_and_only_causal_deletes_and_non_blind_writes_carry_context() {
        let cfg = WorkloadConfig {
            kind: WorkloadKind::Causal,
            mix: Mix {
                read: 20,
                write: 70,
                delete: 10,
            },
            ..WorkloadConfig::default()
        };
        let ops: Vec<Op> = Workload::new(cfg).unwrap().stream(0).take(20_000).collect();
        let writes = ops.iter().filter(|o| o.kind == OpKind::Write).count();
        assert!((13_000..15_000).contains(&writes), "writes: {writes}");
        assert!(ops.iter().all(|o| match o.kind {
            OpKind::Read => !o.causal,
            OpKind::Delete => o.causal,
            OpKind::Write => true,
        }));
        // One write in five is blind (the default share), give or take.
        let blind = ops
            .iter()
            .filter(|o| o.kind == OpKind::Write && !o.causal)
            .count();
        assert!(
            (writes * 17 / 100..writes * 23 / 100).contains(&blind),
            "{blind} blind of {writes} writes"
        );
        let register = Workload::new(WorkloadConfig::default()).unwrap();
        assert!(register.stream(0).take(1000).all(|o| !o.causal));
    }

    #[test]
    fn blind_writes_share_zero_and_one_are_all_or_nothing() {
        let with = |blind_writes: f64| WorkloadConfig {
            kind: WorkloadKind::Causal,
            blind_writes,
            ..WorkloadConfig::default()
        };
        let writes = |cfg: WorkloadConfig| -> Vec<bool> {
            Workload::new(cfg)
                .unwrap()
                .stream(1)
                .take(2000)
                .filter(|o| o.kind == OpKind::Write)
                .map(|o| o.causal)
                .collect()
        };
        assert!(writes(with(0.0)).iter().all(|c| *c));
        assert!(writes(with(1.0)).iter().all(|c| !c));
        assert!(matches!(
            Workload::new(with(1.5)),
            Err(WorkloadError::BlindWrites(_))
        ));
    }

    #[test]
    fn lifecycle_steps_interleave_by_time_and_leave_the_zipf_draws_alone() {
        let with = Workload::new(WorkloadConfig::default()).unwrap();
        let without = Workload::new(WorkloadConfig {
            lifecycle: None,
            ..WorkloadConfig::default()
        })
        .unwrap();
        // 10 s of ops, one every 5 ms.
        let mut s = with.stream(2);
        let ops: Vec<Op> = (0..2000u64)
            .map(|i| s.next_at(Duration::from_millis(5 * i)))
            .collect();
        let (life, zipf): (Vec<&Op>, Vec<&Op>) = ops.iter().partition(|o| o.key.starts_with('d'));
        // A new key per 250 ms (40 in 10 s), each deleted 5 s later (20 of
        // them by 10 s); every key is process 2's.
        assert!((58..=62).contains(&life.len()), "{} steps", life.len());
        assert!(life.iter().all(|o| o.key.starts_with("d2-")));
        let plain: Vec<(OpKind, String)> = without
            .stream(2)
            .take(zipf.len())
            .map(|o| (o.kind, o.key))
            .collect();
        let got: Vec<(OpKind, String)> = zipf.iter().map(|o| (o.kind, o.key.clone())).collect();
        assert_eq!(got, plain);
        // Values stay unique across both.
        let values: HashSet<&String> = ops.iter().filter_map(|o| o.value.as_ref()).collect();
        assert_eq!(
            values.len(),
            ops.iter().filter(|o| o.value.is_some()).count()
        );
        // Keys written in the first 5 s are deleted in the second.
        assert!(
            life.iter()
                .any(|o| o.kind == OpKind::Delete && o.key == "d2-0")
        );
        // Causal: lifecycle writes create their key blind, deletes read first.
        let causal = Workload::new(WorkloadConfig {
            kind: WorkloadKind::Causal,
            blind_writes: 0.0,
            ..WorkloadConfig::default()
        })
        .unwrap();
        let mut s = causal.stream(2);
        let life: Vec<Op> = (0..2000u64)
            .map(|i| s.next_at(Duration::from_millis(5 * i)))
            .filter(|o| o.key.starts_with('d'))
            .collect();
        assert!(life.iter().all(|o| o.causal == (o.kind == OpKind::Delete)));
    }

    #[test]
    fn a_rewritten_lifecycle_key_is_read_back_as_a_plain_read() {
        let cfg = WorkloadConfig {
            kind: WorkloadKind::Causal,
            lifecycle: Some(crate::LifecycleConfig {
                rewrite_after: Some(Duration::from_secs(2)),
                ..crate::LifecycleConfig::default()
            }),
            ..WorkloadConfig::default()
        };
        let mut s = Workload::new(cfg).unwrap().stream(1);
        let life: Vec<Op> = (0..2000u64)
            .map(|i| s.next_at(Duration::from_millis(5 * i)))
            .filter(|o| o.key.starts_with('d'))
            .collect();
        let reads: Vec<&Op> = life.iter().filter(|o| o.kind == OpKind::Read).collect();
        assert!(!reads.is_empty(), "no read-back in {life:?}");
        for read in reads {
            assert!(read.value.is_none() && !read.causal, "{read:?}");
            let writes = life
                .iter()
                .filter(|o| o.kind == OpKind::Write && o.key == read.key)
                .count();
            assert_eq!(
                writes, 2,
                "{} is read back only after its rewrite",
                read.key
            );
        }
    }

    #[test]
    fn invalid_config_is_rejected() {
        let cfg = WorkloadConfig {
            zipf_exponent: f64::NAN,
            ..WorkloadConfig::default()
        };
        assert!(matches!(
            Workload::new(cfg),
            Err(WorkloadError::Exponent(_))
        ));
    }
}

//! Seeded, deterministic op generators for converge.
//!
//! A [`Workload`] turns one [`WorkloadConfig`] (key distribution, op mix,
//! workload kind, seed) into one infinite [`OpStream`] per client process.
//! Streams are pure functions of `(seed, process)`: the same seed gives the
//! same ops, whatever the timing of the run, so a failing run can be replayed;
//! only the key lifecycles are placed by test time, which the harness passes
//! in. The crate opens no sockets and reads no clock; the harness drives it.
//!
//! Map of modules:
//! - [`config`]: [`WorkloadKind`], [`Mix`], [`WorkloadConfig`] and their parsing.
//! - [`keys`]: [`KeyChooser`], Zipf-over-K keys plus a uniform share for cold keys.
//! - [`stream`]: [`Workload`], [`OpStream`], [`Op`] — the per-process generators.
//! - [`lifecycle`]: [`LifecycleConfig`], keys written, deleted and left alone.
//! - [`rate`]: [`RateLimiter`], the pure schedule behind an optional total rate.
//! - [`phase`]: [`Phase`], the run-then-quiesce phases of a test.
//!
//! Where this crate sits: docs/architecture.md; its design:
//! docs/design/workloads.md.

pub mod config;
pub mod keys;
pub mod lifecycle;
pub mod phase;
pub mod rate;
pub mod stream;

pub use config::{Mix, WorkloadConfig, WorkloadError, WorkloadKind};
pub use keys::{Key, KeyChooser};
pub use lifecycle::LifecycleConfig;
pub use phase::Phase;
pub use rate::RateLimiter;
pub use stream::{Op, OpKind, OpStream, Workload};

//! converge, the harness: starts a cluster, runs a seeded workload against it
//! while injecting faults, records a history, waits for convergence and runs
//! the checkers.
//!
//! The `converge` binary (`main.rs` with its `cli` and `app` modules) is the
//! only place that parses flags, prints verdicts and picks exit codes; this
//! library takes plain structs ([`config::Overrides`],
//! [`sweep::SweepOptions`]) and returns typed outcomes. Where this crate
//! sits: docs/architecture.md; its design: docs/design/harness.md.
//!
//! Map of modules (Jepsen's seams, one trait each where backends differ):
//! - [`config`]: the TOML test file and overrides, merged and validated.
//! - [`node_id`]: the `NodeId` type.
//! - [`db`]: node lifecycle ([`db::Db`]; local processes: [`db::LocalDb`]).
//! - [`net`]: network faults ([`net::Partitioner`], [`net::LinkShaper`];
//!   partitions as [`net::Grudge`]s from pure shape functions; local
//!   backend: [`net::ProxyMesh`]).
//! - [`clock`]: clock faults ([`clock::Clock`] via `/admin/clock`).
//! - [`nemesis`]: the seeded fault schedule and its executor.
//! - [`deploy`]: a [`deploy::Backend`] per `[deploy]` target (local
//!   processes, SSH hosts, Docker containers) turning a config into a
//!   [`cluster::Cluster`]: the seams of one deployed cluster and the stack
//!   of steps that tear it down.
//! - [`client`]: HTTP ops against one node, classified ok/fail/info;
//!   [`clients`]: the client processes that drive the workload.
//! - [`history_writer`]: the append-only, regularly flushed history.
//! - [`store`]: run directories and `store/latest`.
//! - [`convergence`]: the post-heal wait for replicas to agree; final state.
//! - [`metrics`]: per-second node metrics sampling.
//! - [`teardown`]: the cleanup stack, and the guard that heals and tears
//!   down on every exit.
//! - [`run`], [`check`]: the `run` and `check` commands (results.json is
//!   [`checkers::results_file`]).
//! - [`output`]: progress line, per-checker table, JUnit XML.
//! - [`sweep`]: `converge sweep`, a matrix of configurations × seeds
//!   compared side by side (report rendered by `reports::sweep`).
//! - [`zoo`]: `converge zoo`, the detection rate of a test against the
//!   node's known-bad variants (a sweep over them; `reports::zoo`).
//! - Remote hosts: [`control`] (SSH / docker exec), [`db::remote`],
//!   [`net::iptables`], [`clock_faketime`], wired by [`deploy::remote`].

pub mod check;
pub mod client;
pub mod clients;
pub mod clock;
pub mod clock_faketime;
pub mod cluster;
pub mod config;
pub mod control;
pub mod convergence;
pub mod db;
pub mod deploy;
pub mod history_writer;
pub mod metrics;
pub mod nemesis;
pub mod net;
pub mod node_id;
pub mod output;
pub mod run;
pub mod store;
pub mod sweep;
pub mod teardown;
pub mod zoo;

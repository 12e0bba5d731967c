//! converge, the harness: starts a cluster, runs a seeded workload against it
//! while injecting faults, records a history, waits for convergence and runs
//! the checkers.
//!
//! The `converge` binary (`main.rs` with its `cli` and `app` modules) is the
//! only place that parses flags, prints verdicts and picks exit codes; this
//! library takes plain structs ([`config::Overrides`],
//! [`sweep::SweepOptions`]) and returns typed outcomes.
//! Map of modules (Jepsen's seams, one trait each where backends differ):
//! - [`config`]: the TOML test file and overrides, merged and validated.
//! - [`node_id`]: the `NodeId` type.
//! - [`db`]: node lifecycle ([`db::Db`]; local processes: [`db::LocalDb`]).
//! - [`net`]: network faults ([`net::Net`]; partitions as [`net::Grudge`]s
//!   from pure shape functions; local backend: [`net::ProxyMesh`]).
//! - [`clock`]: clock faults ([`clock::Clock`] via `/admin/clock`).
//! - [`nemesis`]: the seeded fault schedule and its executor.
//! - [`cluster`], [`deploy`]: one deployed cluster's seams; local deployment.
//! - [`client`]: HTTP ops against one node, classified ok/fail/info;
//!   [`clients`]: the client processes that drive the workload.
//! - [`history_writer`]: the append-only, regularly flushed history.
//! - [`store`]: run directories and `store/latest`.
//! - [`convergence`]: the post-heal wait for replicas to agree; final state.
//! - [`metrics`]: per-second node metrics sampling.
//! - [`teardown`]: the guard that heals and stops everything on every exit.
//! - [`run`], [`check`]: the `run` and `check` commands;
//!   [`results_file`]: results.json, defined in [`checkers::results_file`]
//!   and re-exported here under its old path.
//! - [`output`]: progress line, per-checker table, JUnit XML.
//! - [`sweep`]: `converge sweep`, a matrix of configurations × seeds
//!   compared side by side (report rendered by `reports::sweep`).
//! - Remote hosts (issue 7): [`control`] (SSH / docker exec), [`db::remote`],
//!   [`net::iptables`], [`clock_faketime`], [`deploy_remote`] (`--deploy ssh`
//!   and shared wiring), [`deploy_docker`] with [`docker_image`].

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
pub mod deploy_docker;
pub mod deploy_remote;
pub mod docker_image;
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

pub use checkers::results_file;

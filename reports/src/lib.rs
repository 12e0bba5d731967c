//! HTML and SVG reports of converge runs, the store index, and the store browser.
//!
//! A run directory (`store/<test>/<timestamp>/`, written by the harness) becomes
//! one self-contained `report.html`: no network, no JavaScript, charts as
//! inline SVG, every value escaped. Map of the crate:
//!
//! - [`report`]: the per-run page (verdict, summary, test, checks, charts, files).
//! - [`index`]: `store/index.html`, every run newest first.
//! - [`serve`]: `converge serve`, an HTTP browser over the store.
//! - [`run_dir`]: tolerant loading of a run's files; problems become notes.
//! - [`results`], [`metrics`], [`ops`], [`nemesis`]: the inputs as the report
//!   sees them (results.json, metrics.jsonl, paired ops, fault windows).
//! - [`summary`]: the plain-language "what went wrong and why" (its wording
//!   and the config facts it reads are submodules).
//! - [`stats`], [`charts`], [`svg`]: bucketing/downsampling and the charts.
//! - `templates`, `view`: the embedded tera templates and view helpers.
//!
//! Data flows one way: the harness calls these functions after a run; nothing
//! here calls back into the harness or re-runs checkers.

pub mod charts;
mod error;
pub mod index;
pub mod metrics;
pub mod nemesis;
pub mod ops;
pub mod report;
pub mod results;
pub mod run_dir;
pub mod serve;
pub mod stats;
pub mod summary;
pub mod svg;
mod templates;
mod view;

pub use error::ReportError;
pub use index::render_store_index;
pub use report::render_run_report;
pub use serve::serve;

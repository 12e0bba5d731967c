//! HTML and SVG reports of converge runs, the store index, and the store browser.
//!
//! A run directory (`store/<test>/<timestamp>/`, written by the harness) becomes
//! one self-contained `report.html`: no network, no JavaScript, charts as
//! inline SVG, every value escaped. Map of the crate:
//!
//! - `report`: the per-run page (verdict, summary, test, checks, charts, files).
//! - `index`: `store/index.html`, every run newest first, under each
//!   test's trend across runs (`trends`: verdict strip, anomalies and
//!   convergence time per run).
//! - `serve`: `converge serve`, an HTTP browser over the store.
//! - `run_dir`: tolerant loading of a run's files; problems become notes.
//! - `results`, `metrics`, `ops`, `nemesis`: the inputs as the report
//!   sees them (verdict words, metric series, the op table, fault windows in
//!   seconds). The files themselves are defined once in the `checkers` crate
//!   (`results_file`, `metrics_file`, `history`, `fault_windows`), and this
//!   crate reads them through it.
//! - `summary`: the plain-language "what went wrong and why" (its wording
//!   and the config facts it reads are submodules).
//! - `stats`, `charts`, `svg`: bucketing/downsampling and the charts.
//! - `templates`, `view`: the embedded tera templates and view helpers.
//! - [`sweep`]: the sweep report (many configurations side by side):
//!   [`sweep::write_sweep_report`] and its data model.
//! - [`zoo`]: the zoo report (how often a test catches each known-bad node
//!   variant): [`zoo::write_zoo_report`] and its data model.
//!
//! The public API is four functions and one error type:
//!
//! ```no_run
//! # async fn demo() -> Result<(), reports::ReportError> {
//! use std::path::Path;
//! let run = Path::new("store/default/20261125T100000Z");
//! reports::render_run_report(run)?; // writes run/report.html
//! reports::render_store_index(Path::new("store"))?; // writes store/index.html
//! reports::serve("store".into(), "127.0.0.1:8080".parse().unwrap()).await?; // until Ctrl-C
//! # Ok(()) }
//! ```
//!
//! (`serve_listener` serves on an already bound listener until a given
//! future resolves, for tests and embedders.)
//!
//! Data flows one way: the harness calls these functions after a run; nothing
//! here calls back into the harness or re-runs checkers. Where this crate
//! sits: docs/architecture.md; its design: docs/design/reports.md.

#![warn(missing_docs)]

mod charts;
mod error;
mod files;
mod index;
mod metrics;
mod nemesis;
mod ops;
mod report;
mod results;
mod run_dir;
mod serve;
mod stats;
mod summary;
mod svg;
pub mod sweep;
mod templates;
mod trends;
mod view;
pub mod zoo;

pub use error::ReportError;
pub use files::ReportFiles;
pub use index::render_store_index;
pub use report::render_run_report;
pub use serve::{serve, serve_listener};

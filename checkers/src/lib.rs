//! History analysis for converge.
//!
//! This crate is pure: it reads a history (`history.jsonl`) and a final state
//! (`final-state.jsonl`) and returns verdicts. It opens no sockets and starts no
//! processes, so `converge check` can re-run it on any stored run, and other
//! tools can use it as a library. Entry points: [`check_all`] (events in
//! memory) and [`check_files`] (a run's files, streamed: a 10M-op history
//! needs well under 2 GB).
//!
//! It is also where every file of a run directory is defined, once: the
//! lowest crate the harness (which writes them), the sweep and the reports
//! (which read them) all depend on.
//!
//! Map of modules:
//! - The run directory's files (docs/history.md): [`run_files`] (their
//!   names); [`history`] (events and final-state lines, their strict reader
//!   and writer); [`results_file`] (results.json: the results plus the run's
//!   metadata, read strictly or tolerantly); [`metrics_file`] (metrics.jsonl
//!   samples); [`jsonl`] (the tolerant line reader of the reports and the
//!   sweep); [`fault_windows`] (nemesis start and stop events paired).
//! - The history's vocabulary, shared with the harness that writes it:
//!   [`node_id`] ([`node_id::NodeId`]), [`fault`] ([`fault::FaultKind`])
//!   and [`fault_detail`] ([`fault_detail::FaultDetail`]: what a fault did,
//!   the nodes it took down, the clock offsets it set).
//! - [`result`]: what checks return — [`Results`], [`CheckResult`], [`Anomaly`],
//!   [`Validity`] — and [`CheckConfig`].
//! - [`ops`]: the compact op table (invokes paired with completions by the
//!   one pairing rule, [`ops::InFlight`]) and the one ordering used
//!   everywhere, strict real-time precedence.
//! - [`parse`]: the fast, zero-copy history reader behind [`check_files`].
//! - [`intern`]: key and value interning.
//! - [`context`], [`timeline`], [`findings`]: what checkers share.
//! - The checkers: [`convergence`], [`lost`] (lost updates), [`resurrection`],
//!   [`phantoms`], [`staleness`], [`sessions`], [`perf`]; [`quorum_reads`]
//!   judges every read while the run happens and feeds the lost-update and
//!   resurrection checkers.
//!
//! The definitions: docs/design/checkers.md (the map: docs/architecture.md).

pub mod context;
pub mod convergence;
pub mod fault;
pub mod fault_detail;
pub mod fault_windows;
pub mod findings;
pub mod history;
pub mod intern;
pub mod jsonl;
pub mod lost;
pub mod metrics_file;
pub mod node_id;
pub mod ops;
pub mod parse;
pub mod perf;
pub mod phantoms;
pub mod quorum_reads;
pub mod result;
pub mod results_file;
pub mod resurrection;
pub mod run_files;
pub mod sessions;
pub mod staleness;
pub mod timeline;

pub use result::{
    Anomaly, CheckConfig, CheckDetails, CheckResult, Conflict, Quorum, Results, Validity,
};

use context::{Context, FinalView};
use findings::Outcome;
use history::{Event, FinalLine, HistoryError};
use ops::{EventRef, NONE, OpTable, OpTableBuilder};
use std::collections::{BTreeSet, HashMap};
use std::io::BufReader;
use std::path::Path;

/// Runs every checker over a history held in memory.
pub fn check_all(history: &[Event], final_state: &[FinalLine], cfg: &CheckConfig) -> Results {
    let mut b = OpTableBuilder::new();
    for e in history {
        if e.process == history::Process::Nemesis {
            b.push_nemesis(e.clone());
        } else {
            b.push(&EventRef::of(e));
        }
    }
    let table = b.finish();
    let outcomes = analyze(table, final_state, cfg);
    let lookup = |line: u32| history.get(line as usize).cloned();
    resolve(outcomes.0, &outcomes.1, lookup)
}

/// Errors reading a run's files.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: HistoryError,
    },
}

/// Runs every checker over a run's files. The history is streamed into the
/// compact op table; the events of example anomalies are fetched back in a
/// second pass. A missing final state is allowed (checks that need it say
/// `unknown`).
pub fn check_files(
    history_path: &Path,
    final_state_path: Option<&Path>,
    cfg: &CheckConfig,
) -> Result<Results, CheckError> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(|f| BufReader::with_capacity(1 << 20, f))
            .map_err(|source| CheckError::Open {
                path: p.display().to_string(),
                source,
            })
    };
    let read_err = |p: &Path| {
        let path = p.display().to_string();
        move |source| CheckError::Read { path, source }
    };
    let table = parse::read_op_table(open(history_path)?).map_err(read_err(history_path))?;
    let final_lines = match final_state_path {
        Some(p) => parse::read_final_state_lines(open(p)?).map_err(read_err(p))?,
        None => Vec::new(),
    };
    let (outcomes, table) = analyze(table, &final_lines, cfg);
    let wanted = wanted_lines(&outcomes, &table);
    let events =
        parse::fetch_events(open(history_path)?, &wanted).map_err(read_err(history_path))?;
    Ok(resolve(outcomes, &table, |line| events.get(&line).cloned()))
}

/// Runs the checkers over an op table; returns their outcomes and the table
/// (whose interners now also hold the final state's keys and values).
pub fn analyze(
    mut table: OpTable,
    final_state: &[FinalLine],
    cfg: &CheckConfig,
) -> (Vec<Outcome>, OpTable) {
    let final_view = FinalView::build(&mut table, final_state);
    let outcomes = {
        let cx = Context::new(&table, cfg, final_view);
        let mut stale = staleness::Staleness::new(&cx);
        let mut sess = sessions::Sessions::new(&cx);
        let mut tl = timeline::KeyTimeline::default();
        for k in 0..table.key_count() as ops::KeyId {
            let ops = table.ops_on(k);
            if ops.is_empty() {
                continue;
            }
            tl.load(&table, ops);
            stale.key(&cx, k, ops, &tl);
            sess.key(&cx, k, ops, &tl);
        }
        let (staleness, evidence) = stale.finish(&cx);
        vec![
            convergence::check(&cx),
            lost::check(&cx, &evidence),
            resurrection::check(&cx, &evidence),
            phantoms::check(&cx),
            staleness,
            sess.finish(&cx),
            perf::check(&cx),
        ]
    };
    (outcomes, table)
}

/// The history lines the examples need.
fn wanted_lines(outcomes: &[Outcome], t: &OpTable) -> BTreeSet<u32> {
    let mut wanted = BTreeSet::new();
    for ex in outcomes.iter().flat_map(|o| &o.examples) {
        for &id in &ex.ops {
            let op = t.op(id);
            wanted.insert(op.invoke_line);
            if op.complete_line != NONE {
                wanted.insert(op.complete_line);
            }
        }
        wanted.extend(&ex.lines);
    }
    wanted
}

/// Turns outcomes into results, fetching each example's events by line.
fn resolve(outcomes: Vec<Outcome>, t: &OpTable, fetch: impl Fn(u32) -> Option<Event>) -> Results {
    let wanted = wanted_lines(&outcomes, t);
    let events: HashMap<u32, Event> = wanted
        .iter()
        .filter_map(|&l| fetch(l).map(|e| (l, e)))
        .collect();
    let checks: Vec<CheckResult> = outcomes
        .into_iter()
        .map(|o| CheckResult {
            checker: o.checker.to_string(),
            valid: o.valid,
            counts: o.counts,
            anomalies: o
                .examples
                .into_iter()
                .map(|ex| {
                    let mut lines: BTreeSet<u32> = ex.lines.iter().copied().collect();
                    for &id in &ex.ops {
                        let op = t.op(id);
                        lines.insert(op.invoke_line);
                        if op.complete_line != NONE {
                            lines.insert(op.complete_line);
                        }
                    }
                    Anomaly {
                        kind: ex.kind.to_string(),
                        key: ex.key.map(|k| t.keys.resolve(k).to_string()),
                        explanation: ex.explanation,
                        ops: lines
                            .iter()
                            .filter_map(|l| events.get(l).cloned())
                            .collect(),
                    }
                })
                .collect(),
            details: o.details,
        })
        .collect();
    Results {
        valid: Validity::combine(checks.iter().map(|c| c.valid)),
        checks,
    }
}

//! The per-run report: builds the page's view model from a run directory and
//! renders `report.html`.
//!
//! Order on the page follows what a reader needs first: verdict and cause,
//! then the test that was run, then each checker's evidence, then charts,
//! then links to the raw files.

use crate::ReportError;
use crate::charts::{self, ChartInputs, ChartView};
use crate::nemesis::{FaultView, fault_windows};
use crate::ops::{Op, OpTable};
use crate::results::{Verdict, value_text};
use crate::run_dir::{self, LoadNotes, RunData};
use crate::summary::{self, ConfigFacts, Summary};
use crate::svg::timeline::{self, TimelineRow};
use crate::templates;
use crate::view::{Link, Row, count, flatten, relative_href, secs};
use checkers::Validity;
use checkers::history::{Event, FinalLine, FinalSummary, Process};
use checkers::node_id::NodeId;
use checkers::results_file::tolerant::{AnomalyView, CheckView, ResultsView};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Anomalies per checker drawn with a timeline; the rest are listed as text
/// (still with every op), which keeps pages of huge runs small.
const TIMELINES_PER_CHECK: usize = 30;
/// Faults this close (s) to an anomaly's ops are listed with it.
const NEARBY_S: f64 = 5.0;
/// Ops per anomaly drawn in its timeline.
const TIMELINE_ROWS: usize = 40;

#[derive(Debug, Serialize)]
struct ReportView {
    test_name: String,
    run_label: String,
    verdict: Verdict,
    verdict_label: &'static str,
    summary: Summary,
    /// A few figures under the verdict: ops, ok share, faults, convergence.
    key_figures: Vec<Row>,
    facts: Vec<Row>,
    reproduce: Option<String>,
    /// Faults that could not be injected or lifted, teardown problems.
    problems: Vec<String>,
    config_tables: Vec<ConfigTable>,
    faults: Vec<FaultRow>,
    checks: Vec<CheckSection>,
    latency_table: Vec<Vec<String>>,
    charts: Vec<ChartView>,
    links: Vec<Link>,
    notes: LoadNotes,
    final_summary: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct ConfigTable {
    name: String,
    rows: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct FaultRow {
    fault: String,
    start: String,
    end: String,
    detail: String,
}

#[derive(Debug, Serialize)]
struct CheckSection {
    checker: String,
    anchor: String,
    verdict: Verdict,
    verdict_label: &'static str,
    counts: Vec<Row>,
    details: Vec<Row>,
    anomalies: Vec<AnomalyCard>,
}

#[derive(Debug, Serialize)]
struct AnomalyCard {
    kind: String,
    key: Option<String>,
    explanation: String,
    timeline_svg: Option<String>,
    /// One line per fault window during or near the anomaly's ops.
    faults_nearby: Vec<String>,
    ops: Vec<OpRow>,
}

#[derive(Debug, Serialize)]
struct OpRow {
    index: String,
    process: String,
    node: String,
    f: String,
    key: String,
    value: String,
    invoke: String,
    complete: String,
    outcome: String,
}

/// Reads `run_dir`, writes `run_dir/report.html`, returns its path.
pub fn render_run_report(run_dir: &Path) -> Result<PathBuf, ReportError> {
    let html = render_run_report_html(run_dir)?;
    let out = run_dir.join(run_dir::REPORT_FILE);
    std::fs::write(&out, html).map_err(|source| ReportError::Io {
        action: "writing",
        path: out.clone(),
        source,
    })?;
    Ok(out)
}

/// The report page for `run_dir`, without writing it (used by `serve`).
pub fn render_run_report_html(run_dir: &Path) -> Result<String, ReportError> {
    if !run_dir.is_dir() {
        return Err(ReportError::NotADirectory {
            path: run_dir.to_path_buf(),
        });
    }
    let data = RunData::load(run_dir);
    let view = build_view(data);
    templates::render("report.html", &view)
}

fn build_view(mut data: RunData) -> ReportView {
    let final_summary = data.final_state.iter().find_map(|l| match l {
        FinalLine::Summary(s) => Some(s.clone()),
        FinalLine::Entry(_) => None,
    });
    let run_end_s = run_end_s(&data, final_summary.as_ref());
    let faults = fault_windows(&data.nemesis, run_end_s);
    let table = std::mem::take(&mut data.ops);
    let results = data.results.as_ref();
    let run = results.map(|r| &r.run);
    let config = run
        .and_then(|r| r.get("config"))
        .cloned()
        .unwrap_or_default();
    let facts = ConfigFacts::from_config(&config);
    let not_converged = final_summary.as_ref().is_some_and(|s| !s.converged);
    let evidence = summary::Evidence::gather(&data.metrics, results);
    let summary = summary::summarise(results, &faults, &table, &facts, &evidence, not_converged);

    let details: Vec<&serde_json::Value> = results
        .map(|r| r.checks.iter().map(|c| &c.details).collect())
        .unwrap_or_default();
    let chart_views = charts::build_all(&ChartInputs {
        ops: &table.ops,
        faults: &faults,
        samples: &data.metrics,
        summary: final_summary.as_ref(),
        details,
        run_end_s,
    });
    let checks = results
        .map(|r| {
            r.checks
                .iter()
                .map(|c| check_section(c, &table, &faults))
                .collect()
        })
        .unwrap_or_default();

    let verdict = results.map(|r| Verdict::from(r.valid)).unwrap_or_default();
    let test_name = results
        .and_then(|r| r.run_field(&["test", "test_name", "name"]))
        .map(value_text)
        .or_else(|| {
            config
                .get("test")
                .and_then(|t| t.get("name"))
                .map(value_text)
        })
        .or_else(|| dir_part(&data.dir, 1))
        .unwrap_or_else(|| "converge run".into());
    ReportView {
        run_label: dir_part(&data.dir, 0).unwrap_or_default(),
        test_name,
        verdict,
        verdict_label: verdict.label(),
        summary,
        key_figures: key_figures(&table, &faults, final_summary.as_ref(), results),
        facts: run_facts(run, &table, &faults, run_end_s),
        reproduce: results
            .and_then(|r| r.run_field(&["reproduce", "reproduce_command", "command"]))
            .map(value_text),
        problems: run
            .and_then(|r| r.get("problems"))
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().map(value_text).collect())
            .unwrap_or_default(),
        config_tables: config_tables(&config),
        faults: faults
            .iter()
            .map(|f| FaultRow {
                fault: f.fault.clone(),
                start: format!("{:.3}", f.start_s),
                end: if f.stopped {
                    format!("{:.3}", f.end_s)
                } else {
                    format!("{:.3} (not stopped)", f.end_s)
                },
                detail: f.detail.clone(),
            })
            .collect(),
        checks,
        latency_table: crate::stats::latency_table(&table.ops)
            .into_iter()
            .map(|(f, n, p50, p95, p99, max)| {
                vec![
                    f,
                    n.to_string(),
                    format!("{p50:.2}"),
                    format!("{p95:.2}"),
                    format!("{p99:.2}"),
                    format!("{max:.2}"),
                ]
            })
            .collect(),
        charts: chart_views,
        links: links(&data),
        final_summary: final_summary.map(final_rows).unwrap_or_default(),
        notes: data.notes,
    }
}

fn key_figures(
    table: &OpTable,
    faults: &[FaultView],
    fin: Option<&FinalSummary>,
    results: Option<&ResultsView>,
) -> Vec<Row> {
    let ops = table.ops.len();
    let ok = table
        .ops
        .iter()
        .filter(|o| o.outcome == crate::ops::Outcome::Ok)
        .count();
    let mut rows = vec![Row::new("client ops", ops.to_string())];
    if ops > 0 {
        rows.push(Row::new(
            "ok",
            format!("{:.1}%", 100.0 * ok as f64 / ops as f64),
        ));
    }
    rows.push(Row::new("faults", faults.len().to_string()));
    if let Some(r) = results {
        // Anomalies of failing checkers count against the run; a passing
        // checker's examples (e.g. stale reads under its threshold) are
        // shown apart so a valid run never reads as "N anomalies".
        let failing: f64 = r
            .checks
            .iter()
            .filter(|c| c.valid != Validity::True)
            .map(anomaly_total)
            .sum();
        let tolerated: f64 = r
            .checks
            .iter()
            .filter(|c| c.valid == Validity::True)
            .map(anomaly_total)
            .sum();
        rows.push(Row::new("anomalies", count(failing)));
        if tolerated > 0.0 {
            rows.push(Row::new("tolerated by passing checks", count(tolerated)));
        }
    }
    rows.push(match fin {
        Some(s) => match (s.converged, s.converged_at) {
            (true, Some(at)) => Row::new(
                "to converge",
                format!("{} s", secs(at.saturating_sub(s.healed_at))),
            ),
            (true, None) => Row::new("replicas", "converged"),
            (false, _) => Row::new("replicas", "NOT converged"),
        },
        None => Row::new("convergence", "unknown"),
    });
    rows
}

/// A checker's anomalies, counted per kind as the checker counts them (the
/// examples listed are capped, the counts are not).
fn anomaly_total(c: &CheckView) -> f64 {
    let mut kinds: Vec<&str> = c.anomalies.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
        .iter()
        .map(|k| {
            let shown = c.anomalies.iter().filter(|a| a.kind == *k).count() as f64;
            c.counts.get(*k).copied().unwrap_or(shown).max(shown)
        })
        .sum()
}

/// The last instant anything happened, in seconds.
fn run_end_s(data: &RunData, summary: Option<&FinalSummary>) -> f64 {
    let last_event = data.last_event_time;
    let last_metric = data.metrics.iter().map(|m| m.time).max().unwrap_or(0);
    let fin = summary
        .map(|s| s.converged_at.unwrap_or(s.healed_at).max(s.healed_at))
        .unwrap_or(0);
    (last_event.max(last_metric).max(fin) as f64 / 1e9).max(1.0)
}

/// `nth` = 0: the run directory's own name; 1: its parent's (the test name).
fn dir_part(dir: &Path, nth: usize) -> Option<String> {
    dir.ancestors()
        .nth(nth)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
}

fn run_facts(
    run: Option<&serde_json::Value>,
    table: &OpTable,
    faults: &[FaultView],
    end_s: f64,
) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(serde_json::Value::Object(map)) = run {
        for (k, v) in map {
            // Shown elsewhere: the config tables, the reproduce box, the problems list.
            if k == "config" || k.starts_with("reproduce") || k == "command" || k == "problems" {
                continue;
            }
            match v {
                // e.g. timings {setup_s, workload_s, ...} and ops {ok, info, fail}.
                serde_json::Value::Object(_) => {
                    for r in flatten(v, 20) {
                        rows.push(Row::new(
                            format!("{} {}", k, r.name).replace('_', " "),
                            r.value,
                        ));
                    }
                }
                serde_json::Value::Array(_) => {}
                _ => rows.push(Row::new(k.replace('_', " "), value_text(v))),
            }
        }
    }
    rows.push(Row::new(
        "client ops in history",
        table.ops.len().to_string(),
    ));
    rows.push(Row::new("faults injected", faults.len().to_string()));
    rows.push(Row::new("history span", format!("{end_s:.1} s")));
    rows
}

fn config_tables(config: &serde_json::Value) -> Vec<ConfigTable> {
    let serde_json::Value::Object(map) = config else {
        return Vec::new();
    };
    // The order of a test file (issue 5), then anything else alphabetically.
    const ORDER: [&str; 6] = ["test", "workload", "nemesis", "checks", "deploy", "node"];
    let mut tables: Vec<(&String, &serde_json::Value)> = map.iter().collect();
    tables.sort_by_key(|(name, _)| ORDER.iter().position(|o| o == name).unwrap_or(ORDER.len()));
    tables
        .into_iter()
        .map(|(name, v)| ConfigTable {
            name: name.clone(),
            rows: if v.as_object().is_some_and(|m| m.is_empty()) {
                vec![Row::new("(empty)", "every setting at its default")]
            } else if v.is_object() {
                flatten(v, 200)
            } else {
                vec![Row::new(name.clone(), value_text(v))]
            },
        })
        .collect()
}

fn final_rows(s: FinalSummary) -> Vec<Row> {
    let mut rows = vec![
        Row::new("converged", if s.converged { "yes" } else { "no" }),
        Row::new("nodes", s.nodes.join(", ")),
        Row::new("final heal at", format!("{} s", secs(s.healed_at))),
    ];
    if let Some(c) = s.converged_at {
        rows.push(Row::new("converged at", format!("{} s", secs(c))));
        rows.push(Row::new(
            "time to converge",
            format!("{} s", secs(c.saturating_sub(s.healed_at))),
        ));
    }
    if !s.missing.is_empty() {
        rows.push(Row::new(
            "dumps missing (final state incomplete)",
            s.missing.join(", "),
        ));
    }
    if !s.hints_waiting.is_empty() {
        let waiting: Vec<String> = s
            .hints_waiting
            .iter()
            .map(|(node, n)| format!("{node}: {n}"))
            .collect();
        rows.push(Row::new(
            "hints still waiting (backlog did not drain)",
            waiting.join(", "),
        ));
    }
    rows
}

fn check_section(c: &CheckView, table: &OpTable, faults: &[FaultView]) -> CheckSection {
    CheckSection {
        checker: c.checker.clone(),
        anchor: format!("check-{}", c.checker),
        verdict: Verdict::from(c.valid),
        verdict_label: Verdict::from(c.valid).label(),
        counts: c
            .counts
            .iter()
            .map(|(k, v)| Row::new(k.replace('_', " "), count(*v)))
            .collect(),
        details: flatten(&c.details, 60),
        anomalies: c
            .anomalies
            .iter()
            .enumerate()
            .map(|(i, a)| anomaly_card(a, table, faults, i < TIMELINES_PER_CHECK))
            .collect(),
    }
}

fn anomaly_card(
    a: &AnomalyView,
    table: &OpTable,
    faults: &[FaultView],
    with_timeline: bool,
) -> AnomalyCard {
    // An anomaly lists events; show each op once, whole (invoke → completion),
    // even when only one of its two events was cited.
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    let mut timeline_rows = Vec::new();
    for e in &a.ops {
        match table.op_of_event(e.index) {
            Some(op) => {
                if seen.insert(op.invoke_index) {
                    timeline_rows.push(op_timeline_row(op));
                    rows.push(op_row(op));
                }
            }
            None => {
                timeline_rows.push(event_timeline_row(e));
                rows.push(event_row(e));
            }
        }
    }
    // The faults active during, or within a few seconds of, these ops:
    // the timeline shades them, this list says what exactly was done.
    let (lo, hi) = timeline_rows
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| {
            (lo.min(r.start_s), hi.max(r.end_s.unwrap_or(r.start_s)))
        });
    let faults_nearby = faults
        .iter()
        .filter(|f| lo <= hi && f.overlaps(lo - NEARBY_S, hi + NEARBY_S))
        .map(|f| {
            let during = if f.overlaps(lo, hi) { "during" } else { "near" };
            format!(
                "{during}: {} {:.3}–{:.3} s {}",
                f.fault, f.start_s, f.end_s, f.detail
            )
        })
        .collect();
    timeline_rows.truncate(TIMELINE_ROWS);
    let timeline_svg = (with_timeline && !timeline_rows.is_empty())
        .then(|| timeline::render(&timeline_rows, faults));
    AnomalyCard {
        kind: a.kind.clone(),
        key: a.key.clone(),
        explanation: a.explanation.clone(),
        timeline_svg,
        faults_nearby,
        ops: rows,
    }
}

fn op_values(op: &Op) -> String {
    match (&op.value, &op.values) {
        (Some(v), _) => v.clone(),
        (None, Some(vs)) => format!("[{}]", vs.join(", ")),
        (None, None) => String::new(),
    }
}

fn op_timeline_row(op: &Op) -> TimelineRow {
    let node = op.node.as_ref().map_or("?", NodeId::as_str);
    let key = op.key.as_deref().unwrap_or("");
    let mut label = format!("p{} → {node}  {} {key}", op.process, op.f_label());
    let v = op_values(op);
    if !v.is_empty() {
        label.push_str(&format!(" = {v}"));
    }
    label.push_str(&format!("  {}", op.outcome.name()));
    TimelineRow {
        label,
        start_s: op.invoke_time as f64 / 1e9,
        end_s: op.complete_time.map(|t| t as f64 / 1e9),
        outcome: op.outcome,
    }
}

fn op_row(op: &Op) -> OpRow {
    OpRow {
        index: op.invoke_index.to_string(),
        process: op.process.to_string(),
        node: op
            .node
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        f: op.f_label().into(),
        key: op.key.clone().unwrap_or_default(),
        value: op_values(op),
        invoke: secs(op.invoke_time),
        complete: op.complete_time.map(secs).unwrap_or_else(|| "—".into()),
        outcome: match &op.error {
            Some(err) => format!("{} ({err})", op.outcome.name()),
            None => op.outcome.name().into(),
        },
    }
}

/// An event whose op is not in the history (history missing or partial).
fn event_row(e: &Event) -> OpRow {
    OpRow {
        index: e.index.to_string(),
        process: match e.process {
            Process::Client(p) => p.to_string(),
            Process::Nemesis => "nemesis".into(),
        },
        node: e.node.as_ref().map(ToString::to_string).unwrap_or_default(),
        f: e.f.name().into(),
        key: e.key.clone().unwrap_or_default(),
        value: e
            .value
            .clone()
            .or_else(|| e.values.as_ref().map(|v| format!("[{}]", v.join(", "))))
            .unwrap_or_default(),
        invoke: secs(e.time),
        complete: "—".into(),
        outcome: format!("{:?}", e.kind).to_lowercase(),
    }
}

fn event_timeline_row(e: &Event) -> TimelineRow {
    let r = event_row(e);
    TimelineRow {
        label: format!(
            "p{} → {}  {} {} {}  {}",
            r.process, r.node, r.f, r.key, r.value, r.outcome
        ),
        start_s: e.time as f64 / 1e9,
        end_s: Some(e.time as f64 / 1e9),
        outcome: crate::ops::Outcome::Info,
    }
}

fn links(data: &RunData) -> Vec<Link> {
    let mut out = Vec::new();
    for name in [
        run_dir::HISTORY_FILE,
        run_dir::FINAL_STATE_FILE,
        run_dir::METRICS_FILE,
        run_dir::RESULTS_FILE,
    ] {
        if data.dir.join(name).is_file() {
            out.push(Link {
                href: relative_href([name]),
                label: name.to_string(),
            });
        }
    }
    for name in &data.other_files {
        out.push(Link {
            href: relative_href(name.split('/')),
            label: name.clone(),
        });
    }
    out
}

//! The store index: every run of `store/<test>/<timestamp>/`, newest first,
//! with its verdict and key figures, as `store/index.html`; above the table,
//! each test's trend across runs ([`crate::trends`]).
//!
//! Building it must stay cheap with hundreds of runs in the store, so it reads
//! only results.json and the first line of final-state.jsonl of each run,
//! never a whole history (except to count ops of small runs whose results
//! do not say how many there were).

use crate::ReportError;
use crate::results::{Verdict, value_text};
use crate::run_dir::{FINAL_STATE_FILE, HISTORY_FILE, REPORT_FILE, RESULTS_FILE};
use crate::templates;
use crate::trends::{TestTrend, trends};
use crate::view::{Link, count, relative_href};
use checkers::history::{FinalLine, INVOKE_MARK};
use checkers::results_file::tolerant::{self, ResultsView};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Histories larger than this are not scanned to count ops for the index.
const MAX_HISTORY_SCAN_BYTES: u64 = 64 << 20;

/// One run as the index lists it.
#[derive(Debug, Serialize)]
pub struct RunRow {
    pub verdict: Verdict,
    pub verdict_label: &'static str,
    pub test: String,
    pub started: String,
    pub duration: String,
    pub ops: String,
    pub lost: String,
    pub resurrections: String,
    pub convergence: String,
    /// Relative link to the report, when there is (or will be) one.
    pub report: Option<String>,
    pub links: Vec<Link>,
    /// Orders runs by time: the run directory's timestamp, then the start.
    #[serde(skip)]
    pub(crate) sort_key: String,
    /// The anomalies the verdict names, for the trend charts.
    #[serde(skip)]
    pub(crate) anomalies: Option<f64>,
    #[serde(skip)]
    pub(crate) settle: Settle,
}

/// How a run's convergence wait ended, from final-state.jsonl's summary.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) enum Settle {
    /// Replicas agreed this many seconds after the final heal.
    After(f64),
    /// They agreed, but the file does not say when.
    Untimed,
    /// They never agreed before the convergence timeout.
    Never,
    /// No readable summary.
    #[default]
    Unknown,
}

impl Settle {
    fn text(self) -> String {
        match self {
            Settle::After(s) => format!("{s:.2} s"),
            Settle::Untimed => "converged".into(),
            Settle::Never => "not converged".into(),
            Settle::Unknown => "—".into(),
        }
    }
}

#[cfg(test)]
impl RunRow {
    /// A row with only what the trends read.
    pub(crate) fn for_trend_test(
        test: &str,
        started: &str,
        verdict: Verdict,
        anomalies: Option<f64>,
        settle: Settle,
    ) -> RunRow {
        RunRow {
            verdict,
            verdict_label: verdict.label(),
            test: test.into(),
            started: started.into(),
            duration: String::new(),
            ops: String::new(),
            lost: String::new(),
            resurrections: String::new(),
            convergence: settle.text(),
            report: Some(format!("{test}/{started}/report.html")),
            links: Vec::new(),
            sort_key: started.into(),
            anomalies,
            settle,
        }
    }
}

#[derive(Debug, Serialize, Default)]
struct Counts {
    valid: usize,
    invalid: usize,
    unknown: usize,
}

#[derive(Debug, Serialize)]
struct IndexView {
    trends: Vec<TestTrend>,
    runs: Vec<RunRow>,
    counts: Counts,
}

/// Writes `store_dir/index.html` and returns its path.
pub fn render_store_index(store_dir: &Path) -> Result<PathBuf, ReportError> {
    let html = render_store_index_html(store_dir, false)?;
    let out = store_dir.join("index.html");
    std::fs::write(&out, html).map_err(|source| ReportError::Io {
        action: "writing",
        path: out.clone(),
        source,
    })?;
    Ok(out)
}

/// The index page. `reports_on_demand`: link every run's report even if
/// report.html was not written yet (the server renders it when asked).
pub fn render_store_index_html(
    store_dir: &Path,
    reports_on_demand: bool,
) -> Result<String, ReportError> {
    let runs = scan_store(store_dir, reports_on_demand)?;
    let mut counts = Counts::default();
    for r in &runs {
        match r.verdict {
            Verdict::Valid => counts.valid += 1,
            Verdict::Invalid => counts.invalid += 1,
            Verdict::Unknown => counts.unknown += 1,
        }
    }
    let trends = trends(&runs);
    templates::render(
        "index.html",
        &IndexView {
            trends,
            runs,
            counts,
        },
    )
}

/// Every run directory of the store, newest first. Symlinks (`latest`) are
/// skipped so no run is listed twice.
pub fn scan_store(store_dir: &Path, reports_on_demand: bool) -> Result<Vec<RunRow>, ReportError> {
    if !store_dir.is_dir() {
        return Err(ReportError::NotADirectory {
            path: store_dir.to_path_buf(),
        });
    }
    let mut runs = Vec::new();
    for test in real_subdirs(store_dir)? {
        for run in real_subdirs(&test)? {
            if is_run_dir(&run) {
                runs.push(run_row(store_dir, &run, reports_on_demand));
            }
        }
    }
    runs.sort_by(|a, b| b.sort_key.cmp(&a.sort_key));
    Ok(runs)
}

/// A directory holding a run's files.
pub fn is_run_dir(dir: &Path) -> bool {
    dir.join(RESULTS_FILE).is_file() || dir.join(HISTORY_FILE).is_file()
}

fn real_subdirs(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReportError::Io {
        action: "listing",
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

fn run_row(store: &Path, run: &Path, reports_on_demand: bool) -> RunRow {
    let results = tolerant::read(&run.join(RESULTS_FILE)).ok();
    let rel: Vec<String> = run
        .strip_prefix(store)
        .unwrap_or(run)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let timestamp = rel.last().cloned().unwrap_or_default();
    let test_dir = rel.first().cloned().unwrap_or_default();
    let field = |names: &[&str]| {
        results
            .as_ref()
            .and_then(|r| r.run_field(names))
            .map(value_text)
    };
    let verdict = results
        .as_ref()
        .map(|r| Verdict::from(r.valid))
        .unwrap_or_default();
    let started =
        field(&["started_at", "started", "start_time"]).unwrap_or_else(|| timestamp.clone());
    let figure = |needle: &str| {
        results
            .as_ref()
            .and_then(|r| r.count_containing(needle))
            .map(count)
            .unwrap_or_else(|| "—".into())
    };
    let href = |file: &str| {
        let mut segs: Vec<&str> = rel.iter().map(String::as_str).collect();
        segs.push(file);
        relative_href(segs)
    };
    let settle = settle(run);
    let report = (reports_on_demand || run.join(REPORT_FILE).is_file()).then(|| href(REPORT_FILE));
    let links = [RESULTS_FILE, HISTORY_FILE]
        .into_iter()
        .filter(|f| run.join(f).is_file())
        .map(|f| Link {
            href: href(f),
            label: f.to_string(),
        })
        .collect();
    RunRow {
        verdict,
        verdict_label: verdict.label(),
        test: field(&["test", "test_name", "name"]).unwrap_or(test_dir),
        sort_key: format!("{timestamp}\u{0}{started}"),
        started,
        duration: results
            .as_ref()
            .and_then(run_duration)
            .unwrap_or_else(|| "—".into()),
        ops: results
            .as_ref()
            .and_then(|r| r.run_field(&["ops", "op_count", "total_ops", "ops_total"]))
            .and_then(sum_of)
            .map(count)
            .or_else(|| count_history_ops(run))
            .unwrap_or_else(|| "—".into()),
        lost: figure("lost"),
        resurrections: figure("resurrect"),
        convergence: settle.text(),
        report,
        links,
        anomalies: results.as_ref().and_then(ResultsView::anomaly_count),
        settle,
    }
}

/// A number, or the sum of an object's numbers (the harness writes op
/// counts as `{"ok": n, "info": n, "fail": n}`).
fn sum_of(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Object(map) => {
            Some(map.values().filter_map(serde_json::Value::as_f64).sum())
        }
        other => other.as_f64(),
    }
}

/// "63.2 s" from a `duration` field or the sum of the phase `timings`.
fn run_duration(r: &ResultsView) -> Option<String> {
    if let Some(d) = r.run_field(&["duration", "duration_s", "elapsed"]) {
        return Some(match d.as_f64() {
            Some(secs) => format!("{secs:.1} s"),
            None => value_text(d),
        });
    }
    r.run_field(&["timings"])
        .and_then(sum_of)
        .map(|secs| format!("{secs:.1} s"))
}

/// Ops in a small history: its invocations, counted without parsing JSON.
fn count_history_ops(run: &Path) -> Option<String> {
    let path = run.join(HISTORY_FILE);
    if std::fs::metadata(&path).ok()?.len() > MAX_HISTORY_SCAN_BYTES {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    Some(text.matches(INVOKE_MARK).count().to_string())
}

/// How the run's convergence wait ended, from final-state.jsonl's summary
/// line (the first; the rest of the file is not read).
fn settle(run: &Path) -> Settle {
    let first_line = std::fs::File::open(run.join(FINAL_STATE_FILE))
        .ok()
        .and_then(|f| BufReader::new(f).lines().next())
        .and_then(Result::ok);
    match first_line.and_then(|l| serde_json::from_str::<FinalLine>(&l).ok()) {
        Some(FinalLine::Summary(s)) if s.converged => match s.converged_at {
            Some(at) => Settle::After(at.saturating_sub(s.healed_at) as f64 / 1e9),
            None => Settle::Untimed,
        },
        Some(FinalLine::Summary(_)) => Settle::Never,
        _ => Settle::Unknown,
    }
}

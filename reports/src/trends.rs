//! Trends across nights: the store index's per-test view.
//!
//! A team running converge nightly wants to see at a glance when a test
//! started failing, not read a table of hundreds of runs. So the index
//! groups runs by test name and draws, per test, three small inline SVGs over
//! the same run axis (oldest left, newest right): a strip of verdicts (each
//! cell links to its run's report), the anomaly count per run, and the
//! convergence time per run (a run that never converged is marked, not
//! plotted as zero). The same figures drive the table below it, so the two
//! views cannot disagree.
//!
//! Only the newest [`MAX_RUNS`] runs of a test are drawn: a year of nightly
//! runs stays a strip a page wide.

use crate::index::{RunRow, Settle};
use crate::results::Verdict;
use crate::svg::{coord, escape};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Runs drawn per test.
pub const MAX_RUNS: usize = 60;

/// Width of one run's column, px.
const CELL: f64 = 10.0;
/// Height of the verdict strip and of each small chart, px.
const STRIP_H: f64 = 14.0;
const CHART_H: f64 = 36.0;

const COLOUR_VALID: &str = "#2a9d8f";
const COLOUR_INVALID: &str = "#c1121f";
const COLOUR_UNKNOWN: &str = "#b08900";
const COLOUR_BAR: &str = "#5f6368";
const COLOUR_BASELINE: &str = "#bbbbbb";

/// One test's trend, as the index template shows it.
#[derive(Debug, Serialize)]
pub struct TestTrend {
    pub test: String,
    /// Runs of this test in the store (all of them, not only the drawn ones).
    pub runs: usize,
    pub latest: Verdict,
    pub latest_label: &'static str,
    /// When the latest run was not valid: the start of the current streak of
    /// runs that were not valid ("failing since").
    pub failing_since: Option<String>,
    /// Valid runs among the drawn ones, e.g. "17/20 valid".
    pub pass_rate: String,
    pub verdict_svg: String,
    pub anomalies_svg: String,
    pub convergence_svg: String,
}

/// Groups `runs` (any order) by test; tests sorted by name.
pub fn trends(runs: &[RunRow]) -> Vec<TestTrend> {
    let mut by_test: BTreeMap<&str, Vec<&RunRow>> = BTreeMap::new();
    for r in runs {
        by_test.entry(r.test.as_str()).or_default().push(r);
    }
    by_test
        .into_iter()
        .map(|(test, mut rows)| {
            rows.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
            trend(test, &rows)
        })
        .collect()
}

fn trend(test: &str, all: &[&RunRow]) -> TestTrend {
    let drawn = &all[all.len().saturating_sub(MAX_RUNS)..];
    let latest = all.last().map(|r| r.verdict).unwrap_or_default();
    let failing_since = (latest != Verdict::Valid)
        .then(|| {
            all.iter()
                .rev()
                .take_while(|r| r.verdict != Verdict::Valid)
                .last()
                .map(|r| r.started.clone())
        })
        .flatten();
    let valid = drawn.iter().filter(|r| r.verdict == Verdict::Valid).count();
    TestTrend {
        test: test.to_string(),
        runs: all.len(),
        latest,
        latest_label: latest.label(),
        failing_since,
        pass_rate: format!("{valid}/{} valid", drawn.len()),
        verdict_svg: verdict_strip(drawn),
        anomalies_svg: bar_chart(
            "anomalies per run",
            drawn,
            |r| r.anomalies,
            |v| format!("{v} anomalies"),
        ),
        convergence_svg: convergence_chart(drawn),
    }
}

/// The `<svg>` opening tag of a chart `h` px high over `n` runs.
fn open(out: &mut String, n: usize, h: f64, label: &str) {
    let w = (n.max(1) as f64) * CELL;
    let _ = write!(
        out,
        "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        escape(label)
    );
}

/// A bar chart's opening: the tag and a baseline, so a row of zeros reads
/// as zero rather than as a missing chart.
fn open_chart(out: &mut String, n: usize, label: &str) {
    open(out, n, CHART_H, label);
    let w = (n.max(1) as f64) * CELL;
    let _ = write!(
        out,
        "<line x1=\"0\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"{COLOUR_BASELINE}\"/>",
        y = CHART_H - 0.5
    );
}

/// A cell's hover text: when the run started and what it showed.
fn title(r: &RunRow, what: &str) -> String {
    format!("<title>{} — {}</title>", escape(&r.started), escape(what))
}

fn verdict_strip(runs: &[&RunRow]) -> String {
    let mut out = String::new();
    open(
        &mut out,
        runs.len(),
        STRIP_H,
        "verdict per run, oldest first",
    );
    for (i, r) in runs.iter().enumerate() {
        let colour = match r.verdict {
            Verdict::Valid => COLOUR_VALID,
            Verdict::Invalid => COLOUR_INVALID,
            Verdict::Unknown => COLOUR_UNKNOWN,
        };
        let mut cell = String::new();
        let _ = write!(cell, "<rect x=\"");
        coord(&mut cell, i as f64 * CELL);
        let _ = write!(
            cell,
            "\" y=\"0\" width=\"{}\" height=\"{STRIP_H}\" fill=\"{colour}\">{}</rect>",
            CELL - 2.0,
            title(r, r.verdict.label())
        );
        match &r.report {
            Some(href) => {
                let _ = write!(out, "<a href=\"{}\">{cell}</a>", escape(href));
            }
            None => out.push_str(&cell),
        }
    }
    out.push_str("</svg>");
    out
}

/// One bar per run, scaled to the largest value drawn; a run without the
/// figure gets no bar (and says so on hover).
fn bar_chart(
    label: &str,
    runs: &[&RunRow],
    value: impl Fn(&RunRow) -> Option<f64>,
    describe: impl Fn(f64) -> String,
) -> String {
    let max = runs.iter().filter_map(|r| value(r)).fold(0.0_f64, f64::max);
    let mut out = String::new();
    open_chart(&mut out, runs.len(), label);
    for (i, r) in runs.iter().enumerate() {
        match value(r) {
            Some(v) => {
                let h = if max > 0.0 {
                    (v / max * (CHART_H - 1.0)).max(if v > 0.0 { 2.0 } else { 0.0 })
                } else {
                    0.0
                };
                bar(&mut out, i, h, COLOUR_BAR, &title(r, &describe(v)));
            }
            None => bar(&mut out, i, 0.0, COLOUR_BAR, &title(r, "no figure")),
        }
    }
    out.push_str("</svg>");
    out
}

/// Convergence time per run; a run that never converged gets a full-height
/// red bar, so a regression to "never" stands out rather than vanishing.
fn convergence_chart(runs: &[&RunRow]) -> String {
    let max = runs
        .iter()
        .filter_map(|r| match r.settle {
            Settle::After(s) => Some(s),
            _ => None,
        })
        .fold(0.0_f64, f64::max);
    let mut out = String::new();
    open_chart(&mut out, runs.len(), "convergence time per run");
    for (i, r) in runs.iter().enumerate() {
        match r.settle {
            Settle::After(s) => {
                let h = if max > 0.0 {
                    (s / max * (CHART_H - 1.0)).max(2.0)
                } else {
                    2.0
                };
                let what = format!("converged in {s:.2} s");
                bar(&mut out, i, h, COLOUR_VALID, &title(r, &what));
            }
            Settle::Never => bar(
                &mut out,
                i,
                CHART_H,
                COLOUR_INVALID,
                &title(r, "did not converge"),
            ),
            Settle::Untimed | Settle::Unknown => {
                bar(&mut out, i, 0.0, COLOUR_BAR, &title(r, "no figure"))
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// A bar `h` px high in column `i`; a zero-height bar is an invisible hover
/// target, so every column still tells what it is.
fn bar(out: &mut String, i: usize, h: f64, colour: &str, title: &str) {
    // A zero-height bar draws nothing; its column becomes a transparent
    // full-height target for the hover text instead.
    let (y, height, fill) = if h > 0.0 {
        (CHART_H - h, h, colour)
    } else {
        (0.0, CHART_H, "transparent")
    };
    out.push_str("<rect x=\"");
    coord(out, i as f64 * CELL);
    out.push_str("\" y=\"");
    coord(out, y);
    let _ = write!(out, "\" width=\"{}\" height=\"", CELL - 2.0);
    coord(out, height);
    let _ = write!(out, "\" fill=\"{fill}\">{title}</rect>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(test: &str, stamp: &str, verdict: Verdict, anomalies: f64, settle: Settle) -> RunRow {
        RunRow::for_trend_test(test, stamp, verdict, Some(anomalies), settle)
    }

    #[test]
    fn runs_group_by_test_oldest_first_with_the_failing_streak_named() {
        let runs = vec![
            row("b", "3", Verdict::Invalid, 4.0, Settle::Never),
            row("a", "1", Verdict::Valid, 0.0, Settle::After(0.5)),
            row("b", "1", Verdict::Valid, 0.0, Settle::After(1.0)),
            row("b", "2", Verdict::Invalid, 2.0, Settle::After(3.0)),
        ];
        let t = trends(&runs);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].test.as_str(), t[0].runs), ("a", 1));
        assert_eq!(t[0].failing_since, None);
        let b = &t[1];
        assert_eq!(b.latest, Verdict::Invalid);
        assert_eq!(b.failing_since.as_deref(), Some("2"));
        assert_eq!(b.pass_rate, "1/3 valid");
        // Oldest first: valid, invalid, invalid.
        let fills: Vec<&str> = b
            .verdict_svg
            .match_indices("fill=\"#")
            .map(|(i, _)| &b.verdict_svg[i + 6..i + 13])
            .collect();
        assert_eq!(fills, [COLOUR_VALID, COLOUR_INVALID, COLOUR_INVALID]);
        // The run that never converged is a full-height red bar.
        assert!(b.convergence_svg.contains(&format!(
            "height=\"{CHART_H:.1}\" fill=\"{COLOUR_INVALID}\"><title>3 — did not converge"
        )));
        // The largest anomaly count is the tallest bar.
        assert!(b.anomalies_svg.contains("<title>3 — 4 anomalies</title>"));
    }

    #[test]
    fn only_the_newest_runs_are_drawn_but_all_are_counted() {
        let runs: Vec<RunRow> = (0..MAX_RUNS + 5)
            .map(|i| {
                row(
                    "t",
                    &format!("{i:04}"),
                    Verdict::Valid,
                    0.0,
                    Settle::After(1.0),
                )
            })
            .collect();
        let t = &trends(&runs)[0];
        assert_eq!(t.runs, MAX_RUNS + 5);
        assert_eq!(t.verdict_svg.matches("<rect").count(), MAX_RUNS);
        assert!(!t.verdict_svg.contains("0004 —"));
        assert!(t.verdict_svg.contains("0005 —"));
    }

    #[test]
    fn hostile_test_names_and_times_are_escaped() {
        let runs = vec![row(
            "<script>",
            "<b>",
            Verdict::Unknown,
            0.0,
            Settle::Unknown,
        )];
        let t = &trends(&runs)[0];
        for svg in [&t.verdict_svg, &t.anomalies_svg, &t.convergence_svg] {
            assert!(!svg.contains("<b>"), "{svg}");
        }
    }
}

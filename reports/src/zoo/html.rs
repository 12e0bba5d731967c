//! `zoo.html`: the view the template reads. Every number is formatted here,
//! so the template only lays out strings, which tera escapes.

use super::markdown::{interval, percent, seconds};
use super::model::{BugSummary, ZooReport};
use crate::ReportError;
use serde::Serialize;

#[derive(Serialize)]
struct Page {
    name: String,
    test: String,
    seeds: u32,
    command: String,
    generated_at: String,
    false_alarms: usize,
    clean_runs: usize,
    rows: Vec<Row>,
}

#[derive(Serialize)]
struct Row {
    bug: String,
    clean: bool,
    class: &'static str,
    detected: String,
    interval: String,
    caught_by: String,
    ttd: String,
    runs: Vec<RunLink>,
}

#[derive(Serialize)]
struct RunLink {
    seed: u64,
    href: String,
    class: &'static str,
    verdict: String,
}

fn class(verdict: &str) -> &'static str {
    match verdict {
        "valid" => "valid",
        "invalid" => "invalid",
        _ => "unknown",
    }
}

fn row(b: &BugSummary, store_link: &str) -> Row {
    // A bug is green when (nearly) always caught; the clean node when never.
    let good = if b.clean {
        b.detected == 0
    } else {
        b.rate.low >= 0.95 || (b.judged > 0 && b.detected == b.judged)
    };
    Row {
        bug: b.bug.clone(),
        clean: b.clean,
        class: if good { "valid" } else { "invalid" },
        detected: format!("{}/{} ({})", b.detected, b.judged, percent(b.rate.rate)),
        interval: interval(&b.rate),
        caught_by: b
            .caught_by
            .iter()
            .map(|c| format!("{} ×{}", c.kind, c.runs))
            .collect::<Vec<_>>()
            .join(", "),
        ttd: match (b.ttd_median_ms, b.ttd_max_ms) {
            (Some(m), Some(x)) => format!("{} / {}", seconds(m), seconds(x)),
            _ => "—".into(),
        },
        runs: b
            .runs
            .iter()
            .map(|r| RunLink {
                seed: r.seed,
                href: format!("{store_link}/{}/report.html", r.run_dir),
                class: class(&r.verdict),
                verdict: r.verdict.clone(),
            })
            .collect(),
    }
}

pub(super) fn render(report: &ZooReport, store_link: &str) -> Result<String, ReportError> {
    let page = Page {
        name: report.name.clone(),
        test: report.test.clone(),
        seeds: report.seeds,
        command: report.command.clone(),
        generated_at: report.generated_at.clone(),
        false_alarms: report.false_alarms(),
        clean_runs: report
            .bugs
            .iter()
            .filter(|b| b.clean)
            .map(|b| b.runs.len())
            .sum(),
        rows: report.bugs.iter().map(|b| row(b, store_link)).collect(),
    };
    crate::templates::render("zoo.html", &page)
}

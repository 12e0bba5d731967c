//! The zoo report: how often, and how fast, a test catches each known-bad
//! variant of the node (`converge zoo`; docs/zoo.md). It is the number that
//! says whether a green run means anything.
//!
//! [`write_zoo_report`] writes `zoo.json` (the data, [`ZooReport`]),
//! `zoo.html` (a self-contained page linking every run's report) and
//! `zoo.md` (the table, for docs/BENCHMARKS.md or a design review).

mod html;
mod markdown;
pub mod model;

pub use model::{BugSummary, CaughtBy, DetectionRate, ZooReport, ZooRun};

use crate::ReportError;
use std::path::Path;

/// The files [`write_zoo_report`] wrote: `zoo.html`, `zoo.json`, `zoo.md`.
pub type ZooFiles = crate::files::ReportFiles;

/// Writes `zoo.json`, `zoo.html` and `zoo.md` into `dir` (created if
/// missing). `store_link` is the store directory as seen from `dir`, for the
/// links to each run's report.
pub fn write_zoo_report(
    dir: &Path,
    store_link: &str,
    report: &ZooReport,
) -> Result<ZooFiles, ReportError> {
    crate::files::write_report_files(
        dir,
        "zoo",
        report,
        || html::render(report, store_link),
        || markdown::render(report),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(detected: bool, first_ms: Option<u64>) -> ZooRun {
        ZooRun {
            seed: 1,
            run_dir: "zoo.bug.abc/20261201T000000Z".into(),
            verdict: if detected { "invalid" } else { "valid" }.into(),
            kinds: if detected {
                vec!["lost-updates/lost-write-observed".into()]
            } else {
                Vec::new()
            },
            first_anomaly_ms: first_ms,
        }
    }

    fn bug(name: &str, clean: bool, runs: Vec<ZooRun>) -> BugSummary {
        let detected = runs.iter().filter(|r| r.verdict == "invalid").count();
        BugSummary {
            bug: name.into(),
            clean,
            detected,
            judged: runs.len(),
            rate: DetectionRate {
                rate: detected as f64 / runs.len() as f64,
                low: 0.0,
                high: 1.0,
            },
            caught_by: Vec::new(),
            ttd_median_ms: None,
            ttd_max_ms: None,
            runs,
        }
    }

    #[test]
    fn the_three_files_hold_the_table_and_escape_names() {
        let dir = tempfile::tempdir().unwrap();
        let report = ZooReport {
            name: "zoo".into(),
            test: "default <60s>".into(),
            seeds: 2,
            command: "converge zoo --seeds 2".into(),
            generated_at: "now".into(),
            bugs: vec![
                bug("clean", true, vec![run(false, None), run(false, None)]),
                bug(
                    "early-ack",
                    false,
                    vec![run(true, Some(1200)), run(false, None)],
                ),
            ],
        };
        let files = write_zoo_report(dir.path(), "../..", &report).unwrap();
        let html = std::fs::read_to_string(&files.html).unwrap();
        assert!(html.contains("early-ack"));
        assert!(html.contains("default &lt;60s&gt;"), "escaped: {html}");
        assert!(html.contains("../../zoo.bug.abc/20261201T000000Z/report.html"));
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        assert!(md.contains("| early-ack | 1/2 (50%)"), "{md}");
        let json: ZooReport =
            serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
        assert_eq!(json.bugs[1].detected, 1);
        assert_eq!(json.false_alarms(), 0);
    }
}

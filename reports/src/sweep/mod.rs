//! The sweep report: many configurations side by side, so an operator can
//! pick a repair configuration before production with numbers behind it.
//!
//! [`write_sweep_report`] writes three files from one [`SweepReport`]:
//! `sweep.json` (the data), `sweep.html` (a self-contained page: table,
//! highlights, comparison charts, safety analysis) and `sweep.md` (a
//! Markdown summary to paste into a design review).
//!
//! - [`model`]: the data the harness fills in.
//! - `html`: the page's view and charts; `markdown`: the summary;
//!   `format`: number formatting shared by both.

mod format;
mod html;
mod markdown;
pub mod model;

pub use model::{
    AxisSummary, ConfigSummary, ConvergenceStats, RepairCost, RunSummary, SafetyAnalysis,
    SweepReport, VerdictCounts,
};

use crate::ReportError;
use std::path::Path;

/// The files [`write_sweep_report`] wrote: `sweep.html`, `sweep.json`,
/// `sweep.md`.
pub type SweepFiles = crate::files::ReportFiles;

/// Writes `sweep.json`, `sweep.html` and `sweep.md` into `dir` (created if
/// missing). `store_link` is the store directory as seen from `dir`, for the
/// links to each run.
pub fn write_sweep_report(
    dir: &Path,
    store_link: &str,
    report: &SweepReport,
) -> Result<SweepFiles, ReportError> {
    crate::files::write_report_files(
        dir,
        "sweep",
        report,
        || html::render(report, store_link),
        || markdown::render(report),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(label: &str, valid: u32, invalid: u32, lost: u64) -> ConfigSummary {
        ConfigSummary {
            id: format!("s.{label}"),
            label: label.into(),
            settings: vec![("read_repair.mode".into(), label.into())],
            verdicts: VerdictCounts {
                valid,
                invalid,
                unknown: 0,
            },
            lost_updates: lost,
            convergence: ConvergenceStats {
                converged_runs: 2,
                runs: 2,
                mean_ms: Some(300.0),
                ci95_ms: Some((200.0, 400.0)),
                max_ms: Some(350.0),
            },
            t_visibility: vec![Some(0.5), None],
            safe: invalid == 0,
            safety: SafetyAnalysis {
                tombstone_rule_ok: invalid == 0,
                hints_rule_ok: true,
                violations: if invalid == 0 {
                    vec![]
                } else {
                    vec!["gc_grace 1.0 s < 9.0 s".into()]
                },
                ..Default::default()
            },
            runs: vec![RunSummary {
                seed: 1,
                run_dir: format!("s.{label}/20261125T100000Z"),
                verdict: "valid".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn writes_all_three_files_with_highlights_and_escaping() {
        let dir = tempfile::tempdir().unwrap();
        let report = SweepReport {
            name: "repair<script>".into(),
            seeds: vec![1, 2],
            t_visibility_points_ms: vec![10, 1000],
            configs: vec![config("off|x", 0, 2, 7), config("<b>blocking</b>", 2, 0, 0)],
            safest: Some(1),
            cheapest_safe: Some(1),
            ..Default::default()
        };
        let files = write_sweep_report(dir.path(), "../..", &report).unwrap();
        let html = std::fs::read_to_string(&files.html).unwrap();
        for section in ["summary", "table", "charts", "safety", "runs"] {
            assert!(html.contains(&format!("id=\"{section}\"")), "{section}");
        }
        assert!(!html.contains("<script>") && !html.contains("<b>blocking"));
        assert!(html.contains("Cheapest safe:</b> &lt;b&gt;blocking"));
        assert!(html.contains("gc_grace 1.0 s &lt; 9.0 s"));
        assert!(html.contains("../../s.off|x/20261125T100000Z/report.html"));
        assert_eq!(html.matches("<svg").count(), 5);
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        assert!(md.contains("off\\|x"), "{md}");
        assert!(md.contains("(cheapest safe)"));
        let back: SweepReport =
            serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
        assert_eq!(back.configs.len(), 2);
        assert_eq!(back.configs[0].lost_updates, 7);
    }

    #[test]
    fn no_safe_configuration_is_said_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let report = SweepReport {
            configs: vec![config("off", 0, 1, 3)],
            safest: Some(0),
            ..Default::default()
        };
        let files = write_sweep_report(dir.path(), "..", &report).unwrap();
        let html = std::fs::read_to_string(&files.html).unwrap();
        assert!(html.contains("No configuration was safe"));
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        assert!(md.contains("no configuration was safe"));
    }
}

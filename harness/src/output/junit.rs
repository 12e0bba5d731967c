//! JUnit XML (`--junit FILE`): one test case per checker, so CI systems that
//! run nightly chaos show each checker's verdict. An invalid checker is a
//! `<failure>` listing its anomalies; an undecided one is an `<error>`.
//! A fleet (`run --seeds N`), a sweep and a merge (`--junit`) write one
//! test case per run instead.

use crate::sweep::verdicts::RunVerdict;
use checkers::{Results, Validity};
use std::fmt::Write;

/// Escapes text for XML attributes and content.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The report for one run of test `name`, which took `seconds`.
pub fn render(name: &str, results: &Results, seconds: f64) -> String {
    let failures = results
        .checks
        .iter()
        .filter(|c| c.valid == Validity::False)
        .count();
    let errors = results
        .checks
        .iter()
        .filter(|c| c.valid == Validity::Unknown)
        .count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuite name=\"converge.{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{seconds:.3}\">",
        esc(name),
        results.checks.len()
    );
    for c in &results.checks {
        let _ = write!(
            x,
            "  <testcase classname=\"converge.{}\" name=\"{}\">",
            esc(name),
            esc(&c.checker)
        );
        let body: String = c
            .anomalies
            .iter()
            .map(|a| {
                format!(
                    "{} {}: {}\n",
                    a.kind,
                    a.key.as_deref().unwrap_or("-"),
                    a.explanation
                )
            })
            .collect();
        match c.valid {
            Validity::True => {}
            Validity::False => {
                let _ = write!(
                    x,
                    "\n    <failure message=\"{} anomalies\">{}</failure>\n  ",
                    c.anomalies.len(),
                    esc(&body)
                );
            }
            Validity::Unknown => {
                let _ = write!(
                    x,
                    "\n    <error message=\"unknown verdict\">{}</error>\n  ",
                    esc(&body)
                );
            }
        }
        x.push_str("</testcase>\n");
    }
    x.push_str("</testsuite>\n");
    x
}

/// The report for a fleet of test `name`: one test case per run (by seed),
/// a `<failure>` naming the anomaly kinds of an invalid run, an `<error>`
/// for a run without a verdict (or missing from the store).
pub fn render_fleet(name: &str, runs: &[RunVerdict]) -> String {
    render_runs(&format!("converge.fleet.{name}"), runs, false)
}

/// The report for sweep `name` (whole, merged or a slice): as a fleet's,
/// with each case's class naming its configuration.
pub fn render_sweep(name: &str, runs: &[RunVerdict]) -> String {
    render_runs(&format!("converge.sweep.{name}"), runs, true)
}

fn render_runs(suite: &str, runs: &[RunVerdict], class_per_cell: bool) -> String {
    let failures = runs.iter().filter(|r| r.is_invalid()).count();
    let errors = runs.iter().filter(|r| r.is_undecided()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">",
        esc(suite),
        runs.len()
    );
    for r in runs {
        let dir = r
            .dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "missing from the store".into());
        let class = if class_per_cell {
            format!("{suite}.{}", r.cell)
        } else {
            suite.to_string()
        };
        let _ = write!(
            x,
            "  <testcase classname=\"{}\" name=\"seed {}\">",
            esc(&class),
            r.seed
        );
        match r.valid {
            Some(Validity::True) => {}
            Some(Validity::False) => {
                let _ = write!(
                    x,
                    "\n    <failure message=\"{}\">{}</failure>\n  ",
                    esc(&r.kinds.join(", ")),
                    esc(&dir)
                );
            }
            _ => {
                let _ = write!(
                    x,
                    "\n    <error message=\"no verdict\">{}</error>\n  ",
                    esc(&dir)
                );
            }
        }
        x.push_str("</testcase>\n");
    }
    x.push_str("</testsuite>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Anomaly, CheckResult};

    fn check(name: &str, valid: Validity, anomalies: usize) -> CheckResult {
        CheckResult {
            checker: name.into(),
            valid,
            counts: Default::default(),
            anomalies: (0..anomalies)
                .map(|_| Anomaly {
                    kind: "lost-write".into(),
                    key: Some("k<1>".into()),
                    explanation: "acked & gone".into(),
                    ops: vec![],
                })
                .collect(),
            details: serde_json::Value::Null,
        }
    }

    #[test]
    fn failures_and_errors_are_counted_and_escaped() {
        let r = Results {
            valid: Validity::False,
            checks: vec![
                check("convergence", Validity::True, 0),
                check("lost-updates", Validity::False, 2),
                check("perf", Validity::Unknown, 0),
            ],
        };
        let x = render("nightly", &r, 1.5);
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""));
        assert!(
            x.contains("<failure message=\"2 anomalies\">lost-write k&lt;1&gt;: acked &amp; gone")
        );
        assert!(x.contains("name=\"perf\">\n    <error"));
        assert_eq!(x.matches("<testcase").count(), 3);
    }

    #[test]
    fn a_fleet_is_one_case_per_run() {
        let run = |seed, valid| RunVerdict {
            cell: "base".into(),
            seed,
            dir: Some(std::path::PathBuf::from(format!("store/t/{seed}"))),
            valid,
            kinds: if valid == Some(Validity::False) {
                vec!["lost-updates/lost-write".into()]
            } else {
                Vec::new()
            },
        };
        let x = render_fleet(
            "t",
            &[
                run(1, Some(Validity::True)),
                run(2, Some(Validity::False)),
                run(3, None),
            ],
        );
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{x}");
        assert_eq!(x.matches("<testcase ").count(), 3);
        assert!(x.contains("<failure message=\"lost-updates/lost-write\">store/t/2</failure>"));
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    #[test]
    fn a_sweep_case_names_its_configuration_and_a_missing_run_is_an_error() {
        let runs = [
            RunVerdict {
                cell: "read_repair=off".into(),
                seed: 7,
                dir: Some(std::path::PathBuf::from("store/c1/1")),
                valid: Some(Validity::True),
                kinds: Vec::new(),
            },
            RunVerdict {
                cell: "read_repair=<on>".into(),
                seed: 8,
                dir: None,
                valid: None,
                kinds: Vec::new(),
            },
        ];
        let x = render_sweep("repair", &runs);
        assert!(
            x.contains(
                "<testsuite name=\"converge.sweep.repair\" tests=\"2\" failures=\"0\" errors=\"1\">"
            ),
            "{x}"
        );
        assert!(x.contains(
            "classname=\"converge.sweep.repair.read_repair=off\" name=\"seed 7\"></testcase>"
        ));
        assert!(x.contains(
            "classname=\"converge.sweep.repair.read_repair=&lt;on&gt;\" name=\"seed 8\">"
        ));
        assert!(x.contains(">missing from the store</error>"));
    }
}

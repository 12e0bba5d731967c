//! The closing summary: one row per checker with its verdict, its anomaly
//! count and its main counts, then the overall verdict.

use checkers::{Results, Validity};
use std::fmt::Write;

pub fn verdict(v: Validity) -> &'static str {
    match v {
        Validity::True => "valid",
        Validity::False => "INVALID",
        Validity::Unknown => "unknown",
    }
}

/// Renders the table as plain text.
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    let width = results
        .checks
        .iter()
        .map(|c| c.checker.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        out,
        "{:width$}  {:8}  {:>9}  counts",
        "checker", "verdict", "anomalies"
    );
    for c in &results.checks {
        let counts: Vec<String> = c
            .counts
            .iter()
            .filter(|(_, v)| **v > 0)
            .take(6)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "{:width$}  {:8}  {:>9}  {}",
            c.checker,
            verdict(c.valid),
            c.anomalies.len(),
            counts.join(" ")
        );
    }
    let _ = writeln!(out, "overall: {}", verdict(results.valid));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::CheckResult;

    #[test]
    fn one_row_per_checker_and_the_overall_verdict() {
        let r = Results {
            valid: Validity::False,
            checks: vec![CheckResult {
                checker: "convergence".into(),
                valid: Validity::False,
                counts: [("divergent-keys".to_string(), 3)].into(),
                anomalies: vec![],
                details: serde_json::Value::Null,
            }],
        };
        let t = render(&r);
        assert!(
            t.contains("convergence") && t.contains("INVALID") && t.contains("divergent-keys=3")
        );
        assert!(t.trim_end().ends_with("overall: INVALID"));
    }
}

//! Number formatting shared by the sweep's HTML and Markdown, so both say
//! the same thing in the same words.

use super::model::{ConfigSummary, ConvergenceStats, VerdictCounts};

/// `3/3 valid`, `1/3 valid, 2 anomalies`, ...
pub fn verdicts(v: &VerdictCounts) -> String {
    let total = v.valid + v.invalid + v.unknown;
    let mut out = format!("{}/{total} valid", v.valid);
    if v.invalid > 0 {
        out.push_str(&format!(", {} with anomalies", v.invalid));
    }
    if v.unknown > 0 {
        out.push_str(&format!(", {} unknown", v.unknown));
    }
    out
}

/// The CSS class / word for a configuration's overall verdict.
pub fn verdict_class(v: &VerdictCounts) -> &'static str {
    if v.invalid > 0 {
        "invalid"
    } else if v.unknown > 0 || v.valid == 0 {
        "unknown"
    } else {
        "valid"
    }
}

/// `412 ms (95% CI 380–444)`, `did not converge (0/3)`, ...
pub fn convergence(c: &ConvergenceStats) -> String {
    let Some(mean) = c.mean_ms else {
        return format!("did not converge ({}/{})", c.converged_runs, c.runs);
    };
    let mut out = ms(mean);
    if let Some((lo, hi)) = c.ci95_ms {
        out.push_str(&format!(" (95% CI {}–{})", ms(lo.max(0.0)), ms(hi)));
    }
    if c.converged_runs < c.runs {
        out.push_str(&format!(
            "; {} of {} seeds never converged",
            c.runs - c.converged_runs,
            c.runs
        ));
    }
    out
}

/// Milliseconds, readable at any size.
pub fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// Seconds, readable at any size (gc_grace may be days).
pub fn secs(v: f64) -> String {
    if !v.is_finite() {
        "∞".into()
    } else if v >= 86_400.0 {
        format!("{:.1} d", v / 86_400.0)
    } else if v >= 3600.0 {
        format!("{:.1} h", v / 3600.0)
    } else {
        format!("{v:.1} s")
    }
}

/// A share as a percentage.
pub fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{:.1}%", v * 100.0))
}

/// A count or rate with at most one decimal.
pub fn figure(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The anomaly counts in one phrase: `0` or `12 lost, 3 resurrected`.
pub fn anomalies(c: &ConfigSummary) -> String {
    let parts: Vec<String> = [
        (c.lost_updates, "lost"),
        (c.resurrections, "resurrected"),
        (c.divergent_keys, "divergent keys"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convergence_says_when_seeds_never_converged() {
        let c = ConvergenceStats {
            converged_runs: 2,
            runs: 3,
            mean_ms: Some(412.0),
            ci95_ms: Some((380.0, 444.0)),
            max_ms: Some(450.0),
        };
        assert_eq!(
            convergence(&c),
            "412 ms (95% CI 380 ms–444 ms); 1 of 3 seeds never converged"
        );
        let none = ConvergenceStats {
            runs: 2,
            ..Default::default()
        };
        assert_eq!(convergence(&none), "did not converge (0/2)");
    }

    #[test]
    fn verdicts_and_durations_read_naturally() {
        let v = VerdictCounts {
            valid: 1,
            invalid: 2,
            unknown: 0,
        };
        assert_eq!(verdicts(&v), "1/3 valid, 2 with anomalies");
        assert_eq!(verdict_class(&v), "invalid");
        assert_eq!(secs(864_000.0), "10.0 d");
        assert_eq!(secs(f64::INFINITY), "∞");
        assert_eq!(percent(Some(0.0375)), "3.8%");
    }
}

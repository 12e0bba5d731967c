//! One bug's runs → its [`BugSummary`]: detection rate with an exact
//! binomial interval, what caught it, and how fast.
//!
//! The interval is Clopper–Pearson (from Beta quantiles, statrs): with the
//! 20 seeds a zoo runs by default, a normal approximation would claim
//! certainty it does not have (20 of 20 detected is "95–100%" here, and
//! only "83–100%" in truth).

use checkers::Validity;
use checkers::results_file::RunResults;
use reports::zoo::{BugSummary, CaughtBy, DetectionRate, ZooRun};
use statrs::distribution::{Beta, ContinuousCDF};
use std::collections::BTreeMap;

/// What one finished run says about a bug.
pub fn zoo_run(seed: u64, run_dir: String, results: Option<&RunResults>) -> ZooRun {
    let Some(r) = results else {
        return ZooRun {
            seed,
            run_dir,
            verdict: "error".into(),
            kinds: Vec::new(),
            first_anomaly_ms: None,
        };
    };
    let first_ns = r
        .results
        .failing_anomalies()
        .flat_map(|(_, a)| a.ops.iter().map(|op| op.time))
        .min();
    let kinds = r.results.failing_kinds();
    ZooRun {
        seed,
        run_dir,
        verdict: match r.results.valid {
            Validity::True => "valid",
            Validity::False => "invalid",
            Validity::Unknown => "unknown",
        }
        .into(),
        kinds,
        first_anomaly_ms: first_ns.map(|ns| ns / 1_000_000),
    }
}

/// Folds a bug's runs.
pub fn summarize(bug: &str, clean: bool, runs: Vec<ZooRun>) -> BugSummary {
    let judged = runs
        .iter()
        .filter(|r| r.verdict == "valid" || r.verdict == "invalid")
        .count();
    let detected = runs.iter().filter(|r| r.verdict == "invalid").count();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.verdict == "invalid") {
        for k in &r.kinds {
            *by_kind.entry(k).or_default() += 1;
        }
    }
    let mut caught_by: Vec<CaughtBy> = by_kind
        .into_iter()
        .map(|(kind, runs)| CaughtBy {
            kind: kind.to_string(),
            runs,
        })
        .collect();
    caught_by.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.kind.cmp(&b.kind)));
    let mut times: Vec<u64> = runs
        .iter()
        .filter(|r| r.verdict == "invalid")
        .filter_map(|r| r.first_anomaly_ms)
        .collect();
    times.sort_unstable();
    BugSummary {
        bug: bug.to_string(),
        clean,
        detected,
        judged,
        rate: clopper_pearson(detected, judged),
        caught_by,
        ttd_median_ms: median(&times),
        ttd_max_ms: times.last().copied(),
        runs,
    }
}

/// The lower median of sorted values.
fn median(sorted: &[u64]) -> Option<u64> {
    if sorted.is_empty() {
        None
    } else {
        Some(sorted[(sorted.len() - 1) / 2])
    }
}

/// `k` successes in `n` trials: the rate and its exact 95% interval.
pub fn clopper_pearson(k: usize, n: usize) -> DetectionRate {
    if n == 0 {
        return DetectionRate {
            rate: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let (kf, nf) = (k as f64, n as f64);
    let quantile = |a: f64, b: f64, p: f64| Beta::new(a, b).map_or(f64::NAN, |d| d.inverse_cdf(p));
    let low = if k == 0 {
        0.0
    } else {
        quantile(kf, nf - kf + 1.0, 0.025)
    };
    let high = if k == n {
        1.0
    } else {
        quantile(kf + 1.0, nf - kf, 0.975)
    };
    DetectionRate {
        rate: kf / nf,
        low,
        high,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_matches_the_exact_binomial_one() {
        // Reference values of the Clopper–Pearson interval.
        let all = clopper_pearson(20, 20);
        assert_eq!(all.rate, 1.0);
        assert!((all.low - 0.8316).abs() < 1e-3, "{all:?}");
        assert_eq!(all.high, 1.0);
        let none = clopper_pearson(0, 20);
        assert_eq!(none.low, 0.0);
        assert!((none.high - 0.1684).abs() < 1e-3, "{none:?}");
        let half = clopper_pearson(5, 10);
        assert!((half.low - 0.1871).abs() < 1e-3 && (half.high - 0.8129).abs() < 1e-3);
    }

    fn run(verdict: &str, kinds: &[&str], ms: Option<u64>) -> ZooRun {
        ZooRun {
            seed: 1,
            run_dir: "d".into(),
            verdict: verdict.into(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            first_anomaly_ms: ms,
        }
    }

    #[test]
    fn runs_fold_into_rate_kinds_and_times() {
        let s = summarize(
            "early-ack",
            false,
            vec![
                run("invalid", &["lost-updates/lost-write-observed"], Some(3000)),
                run(
                    "invalid",
                    &[
                        "lost-updates/lost-write-observed",
                        "convergence/divergent-key",
                    ],
                    Some(1000),
                ),
                run("valid", &[], None),
                run("error", &[], None),
            ],
        );
        assert_eq!((s.detected, s.judged), (2, 3));
        assert_eq!(s.caught_by[0].kind, "lost-updates/lost-write-observed");
        assert_eq!(s.caught_by[0].runs, 2);
        assert_eq!(s.ttd_median_ms, Some(1000));
        assert_eq!(s.ttd_max_ms, Some(3000));
    }
}

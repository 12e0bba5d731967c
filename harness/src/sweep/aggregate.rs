//! From runs to configurations: verdicts over seeds, summed anomalies,
//! convergence time as a mean with a 95% confidence interval (Student's t,
//! statrs), mean rates, and the two highlights.
//!
//! Convergence time is averaged over the seeds that converged only; the
//! others are counted separately, because "never converged" is not a large
//! number but a different outcome (and the safety analysis treats it so).

use reports::sweep::{
    ConfigSummary, ConvergenceStats, RepairCost, RunSummary, SafetyAnalysis, SweepReport,
    VerdictCounts,
};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::Statistics;

/// One configuration's runs and analysis, before aggregation.
pub struct ConfigRuns {
    pub id: String,
    pub label: String,
    pub settings: Vec<(String, String)>,
    pub runs: Vec<RunSummary>,
    pub safety: SafetyAnalysis,
}

/// Aggregates one configuration.
pub fn summarize(c: ConfigRuns) -> ConfigSummary {
    let runs = &c.runs;
    let mut verdicts = VerdictCounts::default();
    for r in runs {
        match r.verdict.as_str() {
            "valid" => verdicts.valid += 1,
            "invalid" => verdicts.invalid += 1,
            _ => verdicts.unknown += 1,
        }
    }
    let times: Vec<f64> = runs.iter().filter_map(|r| r.convergence_ms).collect();
    let per_kop = |f: fn(&RunSummary) -> f64| {
        mean_of(
            runs.iter()
                .filter(|r| r.client_ops > 0)
                .map(|r| f(r) * 1000.0 / r.client_ops as f64),
        )
        .unwrap_or(0.0)
    };
    let points = runs.first().map_or(0, |r| r.t_visibility.len());
    let safe =
        !runs.is_empty() && verdicts.valid as usize == runs.len() && c.safety.violations.is_empty();
    ConfigSummary {
        id: c.id,
        label: c.label,
        settings: c.settings,
        verdicts,
        lost_updates: runs.iter().map(|r| r.lost_updates).sum(),
        resurrections: runs.iter().map(|r| r.resurrections).sum(),
        divergent_keys: runs.iter().map(|r| r.divergent_keys).sum(),
        convergence: ConvergenceStats {
            converged_runs: times.len() as u32,
            runs: runs.len() as u32,
            mean_ms: mean_of(times.iter().copied()),
            ci95_ms: ci95(&times),
            max_ms: times.iter().copied().reduce(f64::max),
        },
        stale_read_rate: mean_of(runs.iter().filter_map(|r| r.stale_read_rate)),
        t_visibility: (0..points)
            .map(|i| {
                mean_of(
                    runs.iter()
                        .filter_map(|r| r.t_visibility.get(i).copied().flatten()),
                )
            })
            .collect(),
        repair_cost: RepairCost {
            anti_entropy_bytes_per_kop: per_kop(|r| r.anti_entropy_bytes),
            read_repair_writes_per_kop: per_kop(|r| r.read_repair_writes),
            hints_replayed_per_kop: per_kop(|r| r.hints_replayed),
        },
        p99_latency_ms: mean_of(runs.iter().filter_map(|r| r.p99_latency_ms)),
        safety: c.safety,
        safe,
        runs: c.runs,
    }
}

fn mean_of(values: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.collect();
    (!v.is_empty()).then(|| v.iter().mean())
}

/// The 95% confidence interval of the mean; needs two samples.
pub fn ci95(samples: &[f64]) -> Option<(f64, f64)> {
    let n = samples.len();
    if n < 2 {
        return None;
    }
    let mean = samples.iter().mean();
    let sd = samples.iter().std_dev();
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(0.975);
    let half = t * sd / (n as f64).sqrt();
    half.is_finite().then_some((mean - half, mean + half))
}

/// How the highlights are chosen, for the report.
pub const RANKING_RULES: [&str; 2] = [
    "Safest: fewest seeds with anomalies or no verdict, then fewest lost, resurrected and divergent keys, then fewest broken safety rules, then fastest mean convergence.",
    "Cheapest safe: among configurations with every seed valid and no broken safety rule, the least anti-entropy bytes per 1,000 ops, then the fewest read-repair writes and replayed hints per 1,000 ops.",
];

/// Picks the safest and the cheapest safe configuration.
pub fn highlight(report: &mut SweepReport) {
    report.safest = report
        .configs
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.runs.is_empty())
        .min_by(|(_, a), (_, b)| {
            risk(a)
                .partial_cmp(&risk(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(i, _)| i);
    report.cheapest_safe = report
        .configs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.safe)
        .min_by(|(_, a), (_, b)| {
            cost(a)
                .partial_cmp(&cost(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map(|(i, _)| i);
    report.ranking_rules = RANKING_RULES.iter().map(|s| s.to_string()).collect();
}

/// Lower is safer; compared field by field.
fn risk(c: &ConfigSummary) -> [f64; 5] {
    [
        f64::from(c.verdicts.invalid + c.verdicts.unknown),
        (c.lost_updates + c.resurrections + c.divergent_keys) as f64,
        c.safety.violations.len() as f64,
        f64::from(c.convergence.runs - c.convergence.converged_runs),
        c.convergence.mean_ms.unwrap_or(f64::MAX),
    ]
}

/// Lower is cheaper; compared field by field.
fn cost(c: &ConfigSummary) -> (f64, f64) {
    let r = &c.repair_cost;
    (
        r.anti_entropy_bytes_per_kop,
        r.read_repair_writes_per_kop + r.hints_replayed_per_kop,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(verdict: &str, conv: Option<f64>, ae: f64, lost: u64) -> RunSummary {
        RunSummary {
            verdict: verdict.into(),
            convergence_ms: conv,
            anti_entropy_bytes: ae,
            client_ops: 2000,
            lost_updates: lost,
            t_visibility: vec![Some(0.5), None],
            ..Default::default()
        }
    }

    fn config(id: &str, runs: Vec<RunSummary>) -> ConfigSummary {
        summarize(ConfigRuns {
            id: id.into(),
            label: id.into(),
            settings: vec![],
            runs,
            safety: SafetyAnalysis::default(),
        })
    }

    #[test]
    fn the_interval_matches_students_t() {
        // n = 3, mean 200, sd 100: t(0.975, 2) = 4.3027.
        let (lo, hi) = ci95(&[100.0, 200.0, 300.0]).unwrap();
        assert!((hi - 200.0 - 4.302_652_7 * 100.0 / 3f64.sqrt()).abs() < 1e-3);
        assert!((200.0 - lo - (hi - 200.0)).abs() < 1e-9);
        assert_eq!(ci95(&[5.0]), None);
    }

    #[test]
    fn configurations_aggregate_over_seeds() {
        let c = config(
            "a",
            vec![
                run("valid", Some(100.0), 4000.0, 0),
                run("invalid", None, 0.0, 3),
            ],
        );
        assert_eq!(
            c.verdicts,
            VerdictCounts {
                valid: 1,
                invalid: 1,
                unknown: 0
            }
        );
        assert_eq!(c.lost_updates, 3);
        assert_eq!((c.convergence.converged_runs, c.convergence.runs), (1, 2));
        assert_eq!(c.convergence.mean_ms, Some(100.0));
        assert_eq!(c.repair_cost.anti_entropy_bytes_per_kop, 1000.0);
        assert_eq!(c.t_visibility, vec![Some(0.5), None]);
        assert!(!c.safe);
    }

    #[test]
    fn highlights_pick_safest_and_cheapest_safe() {
        let mut report = SweepReport {
            configs: vec![
                config("lossy", vec![run("invalid", Some(10.0), 0.0, 5)]),
                config("heavy", vec![run("valid", Some(100.0), 9000.0, 0)]),
                config("light", vec![run("valid", Some(300.0), 1000.0, 0)]),
            ],
            ..Default::default()
        };
        highlight(&mut report);
        assert_eq!(report.safest, Some(1));
        assert_eq!(report.cheapest_safe, Some(2));
    }
}

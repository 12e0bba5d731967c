//! The safety analysis of one configuration, with measured numbers.
//!
//! Tombstone rule: a tombstone must outlive everything that can still carry
//! the deleted value back to a replica that purged it — the longest time a
//! replica can be cut off, the time repair then needs to reach it, and the
//! clock difference between the node that wrote the tombstone and the node
//! that purges it. So `gc_grace ≥ longest partition or outage + repair lag
//! + clock-skew budget`.
//!
//! Hint rule: a hint replayed after the tombstone it predates was purged
//! resurrects the value, so with hinted handoff on, `hints.window ≤
//! gc_grace`.
//!
//! Node defaults (gc_grace 10d, hints on with a 3h window) are those of
//! docs/node-api.md, used when the test's `[node]` table does not set them.

use crate::config::TestConfig;
use crate::nemesis::FaultKind;
use reports::sweep::{RunSummary, SafetyAnalysis};

const DEFAULT_GC_GRACE_S: f64 = 10.0 * 86_400.0;
const DEFAULT_HINTS_WINDOW_S: f64 = 3.0 * 3600.0;

/// Evaluates both rules for a configuration over its runs.
pub fn analyze(cfg: &TestConfig, runs: &[RunSummary]) -> SafetyAnalysis {
    let node = cfg.node_config();
    let duration_s =
        |section: &str, key: &str| cfg.node_duration(section, key).map(|d| d.as_secs_f64());
    let gc_grace_s = duration_s("tombstones", "gc_grace").unwrap_or(DEFAULT_GC_GRACE_S);
    let hints_enabled = node
        .get("hints")
        .and_then(|t| t.get("enabled"))
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let hints_window_s = duration_s("hints", "window").unwrap_or(DEFAULT_HINTS_WINDOW_S);
    let longest_partition_s = runs
        .iter()
        .map(|r| r.longest_partition_s)
        .fold(0.0, f64::max);
    let never_converged = runs.iter().filter(|r| r.convergence_ms.is_none()).count();
    // A seed that never converged repaired in at least the whole timeout.
    let timeout_s = cfg.test.convergence_timeout.get().as_secs_f64();
    let repair_lag_s = runs
        .iter()
        .map(|r| r.convergence_ms.map_or(timeout_s, |ms| ms / 1000.0))
        .fold(0.0, f64::max);
    // Each node's offset is drawn within ±clock_skew, so two nodes can be
    // up to twice that apart.
    let clock_skew_budget_s = if cfg.nemesis.faults.contains(&FaultKind::Clock) {
        2.0 * cfg.nemesis.clock_skew.get().as_secs_f64()
    } else {
        0.0
    };
    let required_gc_grace_s = longest_partition_s + repair_lag_s + clock_skew_budget_s;
    let mut violations = Vec::new();
    let tombstone_rule_ok = gc_grace_s >= required_gc_grace_s && never_converged == 0;
    if gc_grace_s < required_gc_grace_s {
        violations.push(format!(
            "tombstones.gc_grace {} < {} needed = longest partition/outage {} + repair lag {} + clock-skew budget {}",
            secs(gc_grace_s),
            secs(required_gc_grace_s),
            secs(longest_partition_s),
            secs(repair_lag_s),
            secs(clock_skew_budget_s),
        ));
    }
    if never_converged > 0 {
        violations.push(format!(
            "replicas never converged within {} in {never_converged} of {} seeds: repair lag is unbounded, so no gc_grace is safe",
            secs(timeout_s),
            runs.len()
        ));
    }
    let hints_rule_ok = !hints_enabled || hints_window_s <= gc_grace_s;
    if !hints_rule_ok {
        violations.push(format!(
            "hints.window {} > tombstones.gc_grace {}: a hint replayed after its tombstone was purged resurrects the value",
            secs(hints_window_s),
            secs(gc_grace_s)
        ));
    }
    SafetyAnalysis {
        gc_grace_s,
        longest_partition_s,
        repair_lag_s,
        clock_skew_budget_s,
        required_gc_grace_s,
        tombstone_rule_ok,
        hints_enabled,
        hints_window_s,
        hints_rule_ok,
        violations,
    }
}

fn secs(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1}h", s / 3600.0)
    } else {
        format!("{s:.2}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::duration::HumanDuration;

    fn cfg(node: &str, faults: Vec<FaultKind>) -> TestConfig {
        let mut c = TestConfig {
            node: node.parse().unwrap(),
            ..Default::default()
        };
        c.nemesis.faults = faults;
        c.nemesis.clock_skew = HumanDuration::from_secs(2);
        c
    }

    fn run(partition_s: f64, conv_ms: Option<f64>) -> RunSummary {
        RunSummary {
            longest_partition_s: partition_s,
            convergence_ms: conv_ms,
            ..Default::default()
        }
    }

    #[test]
    fn short_gc_grace_breaks_the_tombstone_rule_with_its_numbers() {
        let c = cfg(
            "[tombstones]\ngc_grace = \"5s\"\n[hints]\nwindow = \"1m\"\n",
            vec![FaultKind::Partition, FaultKind::Clock],
        );
        let a = analyze(&c, &[run(3.0, Some(500.0)), run(2.0, Some(1500.0))]);
        assert_eq!(a.required_gc_grace_s, 3.0 + 1.5 + 4.0);
        assert!(!a.tombstone_rule_ok && !a.hints_rule_ok);
        assert!(
            a.violations[0].contains("5.00s < 8.50s"),
            "{:?}",
            a.violations
        );
        assert!(a.violations[1].contains("hints.window 60.00s > tombstones.gc_grace 5.00s"));
    }

    #[test]
    fn defaults_are_safe_but_a_seed_that_never_converged_is_not() {
        let c = cfg("", vec![FaultKind::Partition]);
        let a = analyze(&c, &[run(3.0, Some(500.0))]);
        assert!(a.tombstone_rule_ok && a.hints_rule_ok && a.violations.is_empty());
        assert_eq!(a.clock_skew_budget_s, 0.0);
        let a = analyze(&c, &[run(3.0, None)]);
        assert!(!a.tombstone_rule_ok);
        assert!(a.violations[0].contains("never converged"));
        let off = cfg("[hints]\nenabled = false\nwindow = \"30d\"\n", vec![]);
        assert!(analyze(&off, &[run(0.0, Some(1.0))]).hints_rule_ok);
    }
}

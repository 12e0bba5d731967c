//! The plain-language summary at the top of a report: what went wrong and
//! its likely cause, e.g. "37 acknowledged writes were lost; all 10 examples
//! happened during clock skew of up to 4 s. Likely cause: lww resolves
//! conflicts by timestamp, ...".
//!
//! It is derived, not written by the checkers: anomalies are matched against
//! the nemesis windows active while their ops ran, and against the tested
//! configuration (conflict mode, quorums, which repair mechanisms were on).
//! Anomaly kinds are matched by word ("lost", "resurrect", "stale", ...) so a
//! new kind still gets a sentence, just without a specific cause.

use crate::nemesis::FaultView;
use crate::ops::OpTable;
use checkers::Validity;
use checkers::results_file::tolerant::{AnomalyView, ResultsView};
use serde::Serialize;
use std::collections::BTreeMap;

mod config_facts;
mod evidence;
mod wording;

pub use config_facts::ConfigFacts;
pub use evidence::Evidence;
use wording::{describe_kind, divergence_cause, fault_phrase, likely_cause, sentence_case};

/// The summary as the template shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub headline: String,
    pub findings: Vec<Finding>,
}

/// One sentence about one kind of anomaly, with the checker's anchor.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub what: String,
    pub when: Option<String>,
    pub cause: Option<String>,
    /// `check-<checker>` anchor in the report.
    pub anchor: String,
}

/// Builds the summary. `results` is `None` when results.json is missing.
pub fn summarise(
    results: Option<&ResultsView>,
    faults: &[FaultView],
    ops: &OpTable,
    facts: &ConfigFacts,
    evidence: &Evidence,
    not_converged: bool,
) -> Summary {
    let Some(results) = results else {
        return Summary {
            headline: "No verdict: results.json is missing or unreadable, so the checkers' findings are unknown. \
                       The charts below still show what the history recorded."
                .into(),
            findings: Vec::new(),
        };
    };
    let mut findings = Vec::new();
    for check in results.checks.iter().filter(|c| c.valid == Validity::False) {
        let mut by_kind: BTreeMap<&str, Vec<&AnomalyView>> = BTreeMap::new();
        for a in &check.anomalies {
            by_kind.entry(a.kind.as_str()).or_default().push(a);
        }
        let anchor = format!("check-{}", check.checker);
        if by_kind.is_empty() {
            findings.push(Finding {
                what: format!("The {} checker found the run invalid.", check.checker),
                when: None,
                cause: None,
                anchor: anchor.clone(),
            });
        }
        for (kind, examples) in by_kind {
            let total = check
                .counts
                .get(kind)
                .map(|n| *n as usize)
                .unwrap_or(examples.len())
                .max(examples.len());
            let (when, fault) = fault_correlation(&examples, total, faults, ops);
            findings.push(Finding {
                what: describe_kind(kind, total),
                when,
                cause: likely_cause(kind, fault.as_deref(), facts, evidence),
                anchor: anchor.clone(),
            });
        }
    }
    let headline = match results.valid {
        Validity::True => {
            let mut h = format!(
                "Valid: all {} checks passed over {} client ops",
                results.checks.len(),
                ops.ops.len()
            );
            h.push_str(&fault_tally(faults));
            h.push('.');
            h
        }
        Validity::False => {
            let names: Vec<&str> = results
                .checks
                .iter()
                .filter(|c| c.valid == Validity::False)
                .map(|c| c.checker.as_str())
                .collect();
            format!(
                "Anomalies found by {}{}.",
                names.join(", "),
                fault_tally(faults)
            )
        }
        Validity::Unknown => {
            let names: Vec<&str> = results
                .checks
                .iter()
                .filter(|c| c.valid == Validity::Unknown)
                .map(|c| c.checker.as_str())
                .collect();
            if names.is_empty() {
                "Unknown: the checkers could not decide (the history may be partial).".into()
            } else {
                format!(
                    "Unknown: {} could not decide (the history may be partial or have too many indeterminate ops).",
                    names.join(", ")
                )
            }
        }
    };
    if not_converged && !findings.iter().any(|f| f.what.contains("replicas")) {
        findings.push(Finding {
            what: "Replicas had not converged when the convergence wait ended.".into(),
            when: None,
            cause: divergence_cause(facts),
            anchor: "convergence".into(),
        });
    }
    if evidence.exempt_reads > 0 {
        findings.push(Finding {
            what: format!(
                "{} quorum read(s) that missed an acknowledged write were exempt from the overlap rules.",
                evidence.exempt_reads
            ),
            when: Some(format!(
                "A fault took acknowledged data off one of the key's replicas first: {}.",
                evidence.exempting_faults.join("; ")
            )),
            cause: Some("a wipe, or a crash while the node acknowledges before fsync, legitimately breaks quorum intersection for what it took.".into()),
            anchor: "check-staleness".into(),
        });
    }
    Summary { headline, findings }
}

fn fault_tally(faults: &[FaultView]) -> String {
    if faults.is_empty() {
        return ", with no faults injected".into();
    }
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for f in faults {
        *by.entry(f.fault.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = by.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    format!(", under faults: {}", parts.join(", "))
}

/// Which faults the example anomalies' ops overlapped. Returns the sentence
/// and the fault kind to blame when one kind accounts for most examples.
fn fault_correlation(
    examples: &[&AnomalyView],
    total: usize,
    faults: &[FaultView],
    ops: &OpTable,
) -> (Option<String>, Option<String>) {
    let mut per_fault: BTreeMap<&str, (usize, Option<f64>)> = BTreeMap::new();
    let mut located = 0usize;
    for a in examples {
        let Some((from, to)) = anomaly_span(a, ops) else {
            continue;
        };
        located += 1;
        let mut seen: Vec<&str> = Vec::new();
        for f in faults.iter().filter(|f| f.overlaps(from, to)) {
            let entry = per_fault.entry(f.fault.as_str()).or_insert((0, None));
            if !seen.contains(&f.fault.as_str()) {
                entry.0 += 1;
                seen.push(f.fault.as_str());
            }
            if let Some(o) = f.max_offset_ms {
                entry.1 = Some(entry.1.map_or(o, |p: f64| p.max(o)));
            }
        }
    }
    if located == 0 {
        return (None, None);
    }
    let Some((fault, (n, offset))) = per_fault.iter().max_by_key(|(_, (n, _))| *n) else {
        let sentence = if located == 1 {
            "It did not overlap any injected fault."
        } else {
            "None of them overlapped an injected fault."
        };
        return (Some(sentence.into()), None);
    };
    let during = fault_phrase(fault, *offset);
    let sentence = if located == total {
        match (total, *n == located) {
            (1, _) => format!("it happened during {during}"),
            (_, true) => format!("all during {during}"),
            _ => format!("{n} of {located} during {during}"),
        }
    } else {
        match (located, *n == located) {
            (1, _) => format!("the example shown happened during {during}"),
            (_, true) => format!("all {located} examples shown happened during {during}"),
            _ => format!("{n} of the {located} examples shown happened during {during}"),
        }
    };
    let blame = (*n * 2 > located).then(|| fault.to_string());
    (Some(sentence_case(&sentence)), blame)
}

/// The time span (seconds) of an anomaly's ops, from invocation to completion.
fn anomaly_span(a: &AnomalyView, ops: &OpTable) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for e in &a.ops {
        let (start, end) = match ops.op_of_event(e.index) {
            Some(op) => (op.invoke_time, op.complete_time.unwrap_or(op.invoke_time)),
            None => (e.time, e.time),
        };
        lo = lo.min(start as f64 / 1e9);
        hi = hi.max(end as f64 / 1e9);
    }
    (lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::history::read_history;
    use checkers::results_file::tolerant::CheckView;
    use serde_json::Value;

    fn window(fault: &str, from: f64, to: f64, offset: Option<f64>) -> FaultView {
        FaultView {
            fault: fault.into(),
            start_s: from,
            end_s: to,
            stopped: true,
            detail: String::new(),
            max_offset_ms: offset,
        }
    }

    fn results_with(kind: &str, count: f64, op_indexes: &[u64]) -> (ResultsView, OpTable) {
        // Ops at 1 s intervals: op i is invoked at i s and completes 0.1 s later.
        let mut text = String::new();
        for i in 0..10u64 {
            text.push_str(&format!(
                "{{\"index\":{},\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"time\":{},\"key\":\"k\",\"value\":\"0-{i}\"}}\n",
                2 * i,
                i * 1_000_000_000
            ));
            text.push_str(&format!(
                "{{\"index\":{},\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"time\":{},\"key\":\"k\",\"value\":\"0-{i}\"}}\n",
                2 * i + 1,
                i * 1_000_000_000 + 100_000_000
            ));
        }
        let history = read_history(text.as_bytes()).unwrap();
        let ops = history
            .iter()
            .filter(|e| op_indexes.contains(&e.index))
            .cloned()
            .collect();
        let check = CheckView {
            checker: "c".into(),
            valid: Validity::False,
            counts: [(kind.to_string(), count)].into(),
            anomalies: vec![AnomalyView {
                kind: kind.into(),
                key: Some("k".into()),
                explanation: String::new(),
                ops,
            }],
            details: Value::Null,
        };
        let results = ResultsView {
            valid: Validity::False,
            checks: vec![check],
            run: Value::Null,
        };
        (results, OpTable::build(&history))
    }

    #[test]
    fn lost_writes_during_clock_skew_under_lww_blame_timestamps() {
        let (results, ops) = results_with("lost-write", 37.0, &[6, 9]);
        let facts = ConfigFacts {
            conflict: Some("lww".into()),
            ..ConfigFacts::default()
        };
        let faults = [
            window("clock", 2.5, 5.0, Some(4000.0)),
            window("partition", 8.0, 9.0, None),
        ];
        let s = summarise(
            Some(&results),
            &faults,
            &ops,
            &facts,
            &Evidence::default(),
            false,
        );
        let f = &s.findings[0];
        assert_eq!(f.what, "37 acknowledged writes were lost.");
        assert_eq!(
            f.when.as_deref(),
            Some("The example shown happened during clock skew of up to 4.0 s.")
        );
        assert!(
            f.cause
                .as_deref()
                .unwrap()
                .starts_with("lww resolves conflicts by timestamp")
        );
        assert!(s.headline.starts_with("Anomalies found by c"));
    }

    #[test]
    fn stale_reads_with_non_overlapping_quorums_blame_r_plus_w() {
        let (results, ops) = results_with("stale-read", 3.0, &[1]);
        let facts = ConfigFacts {
            rf: Some(3),
            r: Some(1),
            w: Some(1),
            ..ConfigFacts::default()
        };
        let s = summarise(
            Some(&results),
            &[],
            &ops,
            &facts,
            &Evidence::default(),
            false,
        );
        assert_eq!(
            s.findings[0].when.as_deref(),
            Some("It did not overlap any injected fault.")
        );
        assert!(
            s.findings[0]
                .cause
                .as_deref()
                .unwrap()
                .contains("R + W ≤ RF (R=1, W=1, RF=3)")
        );
    }

    #[test]
    fn divergence_with_repair_switched_off_names_the_switches() {
        let config = serde_json::json!({"node": {"anti_entropy": {"enabled": false}, "hints": {"mode": "off"}, "read_repair": {}}});
        let facts = ConfigFacts::from_config(&config);
        assert_eq!(facts.repairs_off, vec!["anti-entropy", "hints"]);
        let results = ResultsView {
            valid: Validity::True,
            checks: Vec::new(),
            run: Value::Null,
        };
        let s = summarise(
            Some(&results),
            &[],
            &OpTable::default(),
            &facts,
            &Evidence::default(),
            true,
        );
        assert_eq!(
            s.findings[0].what,
            "Replicas had not converged when the convergence wait ended."
        );
        assert!(
            s.findings[0]
                .cause
                .as_deref()
                .unwrap()
                .starts_with("not converged; anti-entropy and hints were off")
        );
    }

    #[test]
    fn config_facts_come_from_the_test_table_when_the_node_table_is_silent() {
        let config = serde_json::json!({"test": {"rf": 3, "r": 2, "w": 2, "conflict": "dvv"}, "node": {"tombstones": {"gc_grace": "1s"}}});
        let f = ConfigFacts::from_config(&config);
        assert_eq!((f.rf, f.r, f.w), (Some(3), Some(2), Some(2)));
        assert_eq!(f.conflict.as_deref(), Some("dvv"));
        assert_eq!(f.gc_grace.as_deref(), Some("1s"));
    }

    #[test]
    fn a_resurrection_blames_tombstone_purges_only_when_the_nodes_counted_some() {
        let (results, ops) = results_with("resurrected-value", 2.0, &[1]);
        let facts = ConfigFacts {
            conflict: Some("lww".into()),
            gc_grace: Some("1s".into()),
            ..ConfigFacts::default()
        };
        let cause = |purged| {
            let evidence = Evidence {
                tombstones_purged: purged,
                ..Evidence::default()
            };
            summarise(Some(&results), &[], &ops, &facts, &evidence, false).findings[0]
                .cause
                .clone()
                .unwrap()
        };
        assert!(
            cause(Some(3))
                .starts_with("the nodes purged 3 tombstone(s) during the run (gc_grace 1s)")
        );
        let none_purged = cause(Some(0));
        assert!(
            none_purged.starts_with("no tombstone was purged"),
            "{none_purged}"
        );
        assert!(!none_purged.contains("gc_grace"), "{none_purged}");
        assert!(cause(None).contains("no purge counter"));
    }

    #[test]
    fn exempted_reads_are_named_with_the_faults_that_exempted_them() {
        let results = ResultsView {
            valid: Validity::True,
            checks: Vec::new(),
            run: Value::Null,
        };
        let evidence = Evidence {
            exempt_reads: 4,
            exempting_faults: vec!["wipe of n2 at 12.0 s".into()],
            ..Evidence::default()
        };
        let s = summarise(
            Some(&results),
            &[],
            &OpTable::default(),
            &ConfigFacts::default(),
            &evidence,
            false,
        );
        assert!(s.findings[0].what.starts_with("4 quorum read(s)"));
        assert!(
            s.findings[0]
                .when
                .as_deref()
                .unwrap()
                .contains("wipe of n2 at 12.0 s")
        );
    }
}

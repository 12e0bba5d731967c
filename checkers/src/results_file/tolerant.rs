//! results.json read by a reader that must never fail: the reports.
//!
//! A report must render results written by older or newer versions of the
//! checkers too, so this reading accepts anything shaped roughly right:
//! unknown fields are ignored, missing ones default, a verdict that is not
//! `true` or `false` is unknown, counts may be any number, the run metadata
//! stays free-form JSON, and an op that does not parse as a history event is
//! dropped rather than failing the whole file. The strict reading of the same
//! file is [`super::read`].

use super::ResultsFileError;
use crate::history::Event;
use crate::{CheckDetails, Validity};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The whole of results.json, read tolerantly.
#[derive(Debug, Clone, Deserialize)]
pub struct ResultsView {
    #[serde(default = "unknown", deserialize_with = "lenient_validity")]
    pub valid: Validity,
    #[serde(default)]
    pub checks: Vec<CheckView>,
    /// Run metadata written by the harness ([`super::RunMeta`]): test name,
    /// seed, reproduce command, effective config, start time, timings.
    /// Free-form here, so a reader can look a field up by any of its names.
    #[serde(default)]
    pub run: Value,
}

/// One checker's result.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckView {
    #[serde(default)]
    pub checker: String,
    #[serde(default = "unknown", deserialize_with = "lenient_validity")]
    pub valid: Validity,
    #[serde(default, deserialize_with = "lenient_counts")]
    pub counts: BTreeMap<String, f64>,
    #[serde(default)]
    pub anomalies: Vec<AnomalyView>,
    #[serde(default)]
    pub details: Value,
}

/// One anomaly with the history events behind it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnomalyView {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub explanation: String,
    #[serde(default, deserialize_with = "lenient_events")]
    pub ops: Vec<Event>,
}

fn unknown() -> Validity {
    Validity::Unknown
}

/// `true`, `false`, or anything else (normally `"unknown"`) as unknown.
fn lenient_validity<'de, D: Deserializer<'de>>(d: D) -> Result<Validity, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(true) => Validity::True,
        Value::Bool(false) => Validity::False,
        _ => Validity::Unknown,
    })
}

fn lenient_counts<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let v = Value::deserialize(d)?;
    let mut out = BTreeMap::new();
    if let Value::Object(map) = v {
        for (k, v) in map {
            if let Some(n) = v.as_f64() {
                out.insert(k, n);
            }
        }
    }
    Ok(out)
}

fn lenient_events<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Event>, D::Error> {
    let v = Value::deserialize(d)?;
    let Value::Array(items) = v else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_value(item).ok())
        .collect())
}

impl ResultsView {
    /// The typed details of `D`'s checker, when it ran and they read as
    /// `D`; `None` otherwise (results of another version), so a reader
    /// falls back as it would for a missing figure.
    pub fn details<D: CheckDetails>(&self) -> Option<D> {
        let check = self.checks.iter().find(|c| c.checker == D::CHECKER)?;
        D::deserialize(&check.details).ok()
    }

    /// A field of the run metadata by any of its plausible names.
    pub fn run_field(&self, names: &[&str]) -> Option<&Value> {
        names
            .iter()
            .find_map(|n| self.run.get(*n).filter(|v| !v.is_null()))
    }

    /// The sum of the counts, over all checkers, whose name contains `needle`.
    pub fn count_containing(&self, needle: &str) -> Option<f64> {
        let mut found = None;
        for check in &self.checks {
            for (name, n) in &check.counts {
                if name.contains(needle) {
                    *found.get_or_insert(0.0) += n;
                }
            }
        }
        found
    }

    /// How many anomalies the run's verdict names: for each invalid check,
    /// the counts of the kinds its examples show (a check's `counts` also
    /// hold figures that are not anomalies, such as ops examined). `None`
    /// when the file has no verdict.
    pub fn anomaly_count(&self) -> Option<f64> {
        if self.valid == Validity::Unknown {
            return None;
        }
        let mut total = 0.0;
        for check in self.checks.iter().filter(|c| c.valid == Validity::False) {
            let mut kinds: Vec<&str> = check.anomalies.iter().map(|a| a.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            total += kinds
                .iter()
                .map(|k| check.counts.get(*k).copied().unwrap_or(1.0))
                .sum::<f64>();
        }
        Some(total)
    }
}

/// Reads results.json tolerantly. Errors only when the file cannot be read
/// or is not JSON shaped like results at all.
pub fn read(path: &Path) -> Result<ResultsView, ResultsFileError> {
    super::read_as(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anomaly_count_sums_only_the_kinds_invalid_checks_report() {
        let r: ResultsView = serde_json::from_str(
            r#"{"valid": false, "checks": [
                {"checker": "lost-updates", "valid": false,
                 "counts": {"lost-write": 7, "writes-checked": 900},
                 "anomalies": [{"kind": "lost-write"}, {"kind": "lost-write"}]},
                {"checker": "staleness", "valid": true,
                 "counts": {"stale-read": 40}, "anomalies": []}]}"#,
        )
        .unwrap();
        assert_eq!(r.anomaly_count(), Some(7.0));
        let undecided: ResultsView = serde_json::from_str(r#"{"valid": "unknown"}"#).unwrap();
        assert_eq!(undecided.anomaly_count(), None);
    }

    #[test]
    fn verdicts_and_numbers_read_leniently() {
        let r: ResultsView = serde_json::from_str(
            r#"{"valid": "unknown", "checks": [{"checker": "c", "valid": false,
                "counts": {"n": 3, "odd": "x"}, "anomalies": [{"kind": "k", "ops": [{"bad": 1}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.checks[0].valid, Validity::False);
        assert_eq!(r.checks[0].counts.len(), 1);
        assert!(r.checks[0].anomalies[0].ops.is_empty());
    }
}

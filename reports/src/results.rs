//! A lenient reading of `results.json`.
//!
//! results.json is `checkers::Results` plus the harness's run metadata. The
//! report must render results written by older or newer versions of the
//! checkers too, so this model accepts anything shaped roughly right: unknown
//! fields are ignored, missing ones default, counts may be any number, and an
//! op that does not parse as a history event is dropped (and counted) rather
//! than failing the whole file.

use checkers::history::Event;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The verdict of a run or a checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    #[default]
    Unknown,
}

impl<'de> Deserialize<'de> for Verdict {
    /// `true`, `false`, or anything else (normally `"unknown"`) as unknown.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Bool(true) => Verdict::Valid,
            Value::Bool(false) => Verdict::Invalid,
            _ => Verdict::Unknown,
        })
    }
}

impl Verdict {
    /// Words for the banner and the index.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "anomalies found",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The whole of results.json.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResultsFile {
    #[serde(default)]
    pub valid: Verdict,
    #[serde(default)]
    pub checks: Vec<CheckView>,
    /// Run metadata written by the harness: test name, seed, reproduce
    /// command, effective config, start time, duration. Free-form on purpose.
    #[serde(default)]
    pub run: Value,
}

/// One checker's result.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckView {
    #[serde(default)]
    pub checker: String,
    #[serde(default)]
    pub valid: Verdict,
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

impl ResultsFile {
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
}

/// A JSON value as a short human string: strings without quotes, fractions
/// to at most three decimals (timings arrive with nanosecond digits).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let s = format!("{x:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_numbers_read_leniently() {
        let r: ResultsFile = serde_json::from_str(
            r#"{"valid": "unknown", "checks": [{"checker": "c", "valid": false,
                "counts": {"n": 3, "odd": "x"}, "anomalies": [{"kind": "k", "ops": [{"bad": 1}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(r.valid, Verdict::Unknown);
        assert_eq!(r.checks[0].valid, Verdict::Invalid);
        assert_eq!(r.checks[0].counts.len(), 1);
        assert!(r.checks[0].anomalies[0].ops.is_empty());
        assert_eq!(value_text(&serde_json::json!(15.014224822)), "15.014");
        assert_eq!(value_text(&serde_json::json!(2.0)), "2");
        assert_eq!(value_text(&serde_json::json!(7)), "7");
    }
}

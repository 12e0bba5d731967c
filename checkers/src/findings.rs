//! How a checker records what it found: counts for everything, and full
//! examples (explanation and ops) for the first few of each kind.
//!
//! Explanations are built lazily, only for kept examples: a broken run can
//! have millions of anomalies and formatting each would dominate the check.

use crate::ops::{KeyId, OpId};
use crate::result::{CheckDetails, Validity};
use std::collections::{BTreeMap, HashMap};

/// An example anomaly before its ops are resolved to events.
#[derive(Debug, Clone)]
pub struct Example {
    pub kind: &'static str,
    pub key: Option<KeyId>,
    pub explanation: String,
    pub ops: Vec<OpId>,
    /// Extra history lines to show (e.g. nemesis events).
    pub lines: Vec<u32>,
}

/// What one checker returns before events are fetched for its examples.
#[derive(Debug)]
pub struct Outcome {
    pub checker: &'static str,
    pub valid: Validity,
    pub counts: BTreeMap<String, u64>,
    pub examples: Vec<Example>,
    pub details: serde_json::Value,
}

#[derive(Debug)]
pub struct Findings {
    checker: &'static str,
    max_examples: usize,
    counts: BTreeMap<String, u64>,
    kept: HashMap<&'static str, usize>,
    examples: Vec<Example>,
}

impl Findings {
    pub fn new(checker: &'static str, max_examples: usize) -> Findings {
        Findings {
            checker,
            max_examples,
            counts: BTreeMap::new(),
            kept: HashMap::new(),
            examples: Vec::new(),
        }
    }

    /// Counts one anomaly of `kind`; keeps it as an example while fewer than
    /// `max_examples` of that kind are kept. `describe` returns the
    /// explanation and every op involved.
    pub fn anomaly(
        &mut self,
        kind: &'static str,
        key: Option<KeyId>,
        describe: impl FnOnce() -> (String, Vec<OpId>),
    ) {
        *self.counts.entry(kind.to_string()).or_insert(0) += 1;
        let kept = self.kept.entry(kind).or_insert(0);
        if *kept < self.max_examples {
            *kept += 1;
            let (explanation, ops) = describe();
            self.examples.push(Example {
                kind,
                key,
                explanation,
                ops,
                lines: Vec::new(),
            });
        }
    }

    /// Adds `n` to a plain count (ops examined, reads...).
    pub fn add(&mut self, name: &str, n: u64) {
        *self.counts.entry(name.to_string()).or_insert(0) += n;
    }

    /// How many anomalies of `kind` were counted.
    pub fn count(&self, kind: &str) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }

    /// Makes sure each kind shows up in `counts`, even at zero.
    pub fn declare(&mut self, kinds: &[&str]) {
        for k in kinds {
            self.counts.entry(k.to_string()).or_insert(0);
        }
    }

    /// Finishes with the checker's typed details, serialized as they will
    /// be written. (Serializing them cannot fail: their maps are keyed by
    /// strings; should it, the details say why instead.)
    pub fn finish_with<D: CheckDetails>(self, valid: Validity, details: &D) -> Outcome {
        let details = serde_json::to_value(details).unwrap_or_else(|e| {
            serde_json::Value::String(format!("the details could not be serialized: {e}"))
        });
        self.finish(valid, details)
    }

    pub fn finish(self, valid: Validity, details: serde_json::Value) -> Outcome {
        Outcome {
            checker: self.checker,
            valid,
            counts: self.counts,
            examples: self.examples,
            details,
        }
    }
}

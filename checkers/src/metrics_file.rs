//! metrics.jsonl, defined once: what each node's `/metrics` said at one
//! instant, one line per node per sample,
//! `{"time": ns, "node": "n1", "metrics": {"series{labels}": value, ...}}`.
//!
//! The harness samples the nodes and writes through [`write_sample`]; the
//! sweep (repair counters) and the reports (charts, evidence) read
//! [`MetricSample`]s. Node counters restart at zero when a node restarts,
//! so every reader that totals a counter uses the one rule,
//! [`counter_increase`]. It lives in the checkers crate, the lowest crate
//! that needs it, because dependencies point harness → reports → checkers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// One line of metrics.jsonl: one node's metrics at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// Nanoseconds since the test started (the history's clock).
    pub time: u64,
    pub node: String,
    /// Every series by its full Prometheus name, labels included
    /// (`converge_ops_total{op="get",result="ok"}`); finite values only.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
}

/// Appends one sample as a line.
pub fn write_sample(w: &mut impl Write, sample: &MetricSample) -> std::io::Result<()> {
    crate::history::write_line(w, sample)
}

/// Streams every sample of a metrics.jsonl into `each`, in file order. A
/// line that is not a sample (a harness killed mid-write leaves a torn last
/// line) is skipped; returns how many were.
pub fn for_each_sample(r: impl BufRead, each: impl FnMut(MetricSample)) -> std::io::Result<usize> {
    let read = crate::jsonl::for_each_tolerant(r, each);
    match read.stopped {
        Some((_, e)) => Err(e),
        None => Ok(read.bad_lines),
    }
}

/// How much a counter grew between two readings. A counter that went down
/// was reset (the node restarted), so the new reading is all growth since
/// the reset, as Prometheus's `increase()` reads it.
pub fn counter_increase(previous: f64, now: f64) -> f64 {
    if now >= previous { now - previous } else { now }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_in_the_written_shape_and_torn_lines_are_skipped() {
        let sample = MetricSample {
            time: 5,
            node: "n1".into(),
            metrics: [("converge_keys_live".to_string(), 3.5)].into(),
        };
        let mut out = Vec::new();
        write_sample(&mut out, &sample).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"time\":5,\"node\":\"n1\",\"metrics\":{\"converge_keys_live\":3.5}}\n"
        );
        let mut read = Vec::new();
        let skipped = for_each_sample(format!("{text}{{\"torn").as_bytes(), |s| read.push(s));
        assert_eq!((read, skipped.unwrap()), (vec![sample], 1));
    }

    #[test]
    fn a_counter_that_went_down_was_reset() {
        assert_eq!(counter_increase(10.0, 30.0), 20.0);
        assert_eq!(counter_increase(30.0, 5.0), 5.0);
    }
}

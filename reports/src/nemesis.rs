//! Fault windows, from the nemesis events of the history.
//!
//! The nemesis writes a `start` event when a fault begins and a `stop` event
//! when it ends. A window pairs them: a `stop` closes the oldest open window
//! of the same fault kind. A fault never stopped (the harness was killed, or
//! the final heal is not logged as a stop) stays open to the end of the run.

use checkers::history::{Event, Function, Process};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};

/// One fault, from its start to its end.
#[derive(Debug, Clone)]
pub struct FaultWindow {
    /// `partition`, `clock`, `crash`, `pause`, `wipe`, or whatever the harness wrote.
    pub fault: String,
    /// Seconds since the test started.
    pub start_s: f64,
    pub end_s: f64,
    /// Whether a stop event closed it (false: open until the end of the run).
    pub stopped: bool,
    /// A one-line description of what was done (from the start event's detail).
    pub detail: String,
    /// The largest clock offset named in the detail, in ms (clock faults).
    pub max_offset_ms: Option<f64>,
}

impl FaultWindow {
    pub fn overlaps(&self, from_s: f64, to_s: f64) -> bool {
        self.start_s <= to_s && from_s <= self.end_s
    }
}

/// Pairs the nemesis events of `history` into windows, ordered by start.
/// `run_end_s` closes windows that were never stopped.
pub fn fault_windows(history: &[Event], run_end_s: f64) -> Vec<FaultWindow> {
    let mut open: BTreeMap<String, VecDeque<FaultWindow>> = BTreeMap::new();
    let mut done = Vec::new();
    for e in history.iter().filter(|e| e.process == Process::Nemesis) {
        let fault = e.fault.clone().unwrap_or_else(|| "fault".to_string());
        let t = e.time as f64 / 1e9;
        match e.f {
            Function::Start => {
                let detail = e.detail.as_ref().map(describe_detail).unwrap_or_default();
                let max_offset_ms = e.detail.as_ref().and_then(max_offset_ms);
                open.entry(fault.clone())
                    .or_default()
                    .push_back(FaultWindow {
                        fault,
                        start_s: t,
                        end_s: t,
                        stopped: false,
                        detail,
                        max_offset_ms,
                    });
            }
            Function::Stop => {
                if let Some(mut w) = open.get_mut(&fault).and_then(|q| q.pop_front()) {
                    w.end_s = t.max(w.start_s);
                    w.stopped = true;
                    done.push(w);
                }
            }
            _ => {}
        }
    }
    for mut w in open.into_values().flatten() {
        w.end_s = run_end_s.max(w.start_s);
        done.push(w);
    }
    done.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    done
}

/// A compact one-line rendering of a nemesis detail (JSON), capped in length.
fn describe_detail(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    const MAX: usize = 160;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The largest absolute number found under any key mentioning "offset" or
/// "skew" (the clock nemesis's detail shape is free-form). Keys ending in
/// `_s` or `seconds` are converted from seconds.
fn max_offset_ms(v: &Value) -> Option<f64> {
    fn walk(v: &Value, scale: Option<f64>, best: &mut Option<f64>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let k = k.to_ascii_lowercase();
                    let s = if k.contains("offset") || k.contains("skew") {
                        Some(if k.ends_with("_s") || k.contains("second") {
                            1000.0
                        } else {
                            1.0
                        })
                    } else {
                        scale
                    };
                    walk(child, s, best);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, scale, best)),
            Value::Number(n) => {
                if let (Some(scale), Some(x)) = (scale, n.as_f64()) {
                    let ms = (x * scale).abs();
                    *best = Some(best.map_or(ms, |b: f64| b.max(ms)));
                }
            }
            _ => {}
        }
    }
    let mut best = None;
    walk(v, None, &mut best);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::history::read_history;

    #[test]
    fn starts_pair_with_stops_of_the_same_fault_and_open_ones_run_to_the_end() {
        let text = r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":1000000000,"fault":"clock","detail":{"offsets_ms":{"n1":-4000,"n2":1500}}}
{"index":1,"process":"nemesis","type":"info","f":"start","time":2000000000,"fault":"partition","detail":{"grudge":{"n1":["n2"]}}}
{"index":2,"process":"nemesis","type":"info","f":"stop","time":3000000000,"fault":"clock"}
"#;
        let w = fault_windows(&read_history(text.as_bytes()).unwrap(), 10.0);
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].fault.as_str(), w[0].start_s, w[0].end_s),
            ("clock", 1.0, 3.0)
        );
        assert_eq!(w[0].max_offset_ms, Some(4000.0));
        assert!(w[0].stopped);
        assert_eq!((w[1].end_s, w[1].stopped), (10.0, false));
    }
}

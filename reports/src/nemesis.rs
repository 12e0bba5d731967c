//! Fault windows as the report draws them: in seconds, closed at the end
//! of the run when never stopped, with their detail as one line.
//!
//! The pairing of the nemesis's `start` and `stop` events is
//! [`checkers::fault_windows`]'s; this module only turns each window into
//! what charts, timelines and the summary need.

use checkers::fault_detail::FaultDetail;
use checkers::fault_windows::{FaultWindow, FaultWindows};
use checkers::history::{Event, Process};
use serde_json::Value;

/// One fault, from its start to its end, in the report's units.
#[derive(Debug, Clone)]
pub struct FaultView {
    /// The fault kind's name (`partition`, `clock`, `crash`, `pause`,
    /// `wipe`), or `fault` when the start event named none.
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

impl FaultView {
    pub fn overlaps(&self, from_s: f64, to_s: f64) -> bool {
        self.start_s <= to_s && from_s <= self.end_s
    }

    /// The window in seconds; `run_end_s` closes one that was never stopped.
    fn of(w: FaultWindow, run_end_s: f64) -> FaultView {
        let start_s = w.start as f64 / 1e9;
        let stop_s = w.stop_time().map(|t| t as f64 / 1e9);
        FaultView {
            fault: w.fault.map_or("fault", |k| k.name()).to_string(),
            start_s,
            end_s: stop_s.unwrap_or(run_end_s).max(start_s),
            stopped: stop_s.is_some(),
            detail: w.detail.as_ref().map(describe_detail).unwrap_or_default(),
            max_offset_ms: w
                .detail
                .as_ref()
                .and_then(FaultDetail::clock_offsets)
                .and_then(|o| o.max_abs_ms()),
        }
    }
}

/// The fault windows of the nemesis events in `history`, ordered by start.
/// `run_end_s` closes windows that were never stopped.
pub fn fault_windows(history: &[Event], run_end_s: f64) -> Vec<FaultView> {
    let mut pairs = FaultWindows::default();
    for e in history.iter().filter(|e| e.process == Process::Nemesis) {
        // Line numbers are the checkers' business; the report needs none.
        pairs.push(u32::try_from(e.index).unwrap_or(u32::MAX), e);
    }
    let mut out: Vec<FaultView> = pairs
        .finish()
        .into_iter()
        .map(|w| FaultView::of(w, run_end_s))
        .collect();
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
}

/// A compact one-line rendering of a nemesis detail (its JSON, or a
/// detail that is a bare string as that text), capped in length.
fn describe_detail(d: &FaultDetail) -> String {
    let text = match d {
        FaultDetail::Other(Value::String(s)) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    const MAX: usize = 160;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
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

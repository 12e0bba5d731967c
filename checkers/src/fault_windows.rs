//! Fault windows: the nemesis's `start` and `stop` events of a history
//! paired into the span each fault was in effect, defined once for the
//! checkers (which exempt or separate reads inside faults) and the reports
//! (which shade charts and time anomalies by them).
//!
//! A `stop` closes the oldest open window of the same fault kind. A fault
//! never stopped (the harness was killed, or the final heal is not logged
//! as a stop) has no stop time: it lasts to the end of the run.

use crate::fault::FaultKind;
use crate::fault_detail::FaultDetail;
use crate::history::{Event, Function};
use crate::ops::{NEVER, NONE};
use std::collections::{HashMap, VecDeque};

/// One fault, from its `start` event to the matching `stop`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultWindow {
    /// The start event's fault; `None` when it named none.
    pub fault: Option<FaultKind>,
    /// When the start event was recorded (ns since the test started).
    pub start: u64,
    /// When the stop event was recorded; [`NEVER`] if there was none.
    pub stop: u64,
    /// Line numbers of the two events ([`NONE`]: no stop).
    pub start_line: u32,
    pub stop_line: u32,
    /// The start event's `detail`: what exactly was done.
    pub detail: Option<FaultDetail>,
}

impl FaultWindow {
    /// When the fault was lifted, if a stop event says so.
    pub fn stop_time(&self) -> Option<u64> {
        (self.stop != NEVER).then_some(self.stop)
    }
}

/// Pairs nemesis events into windows, one event at a time.
#[derive(Debug, Default)]
pub struct FaultWindows {
    windows: Vec<FaultWindow>,
    /// Open windows per fault, oldest first, as indexes into `windows`.
    open: HashMap<Option<FaultKind>, VecDeque<usize>>,
}

impl FaultWindows {
    /// Adds the nemesis event on `line`. Returns false when it neither starts
    /// a fault nor stops an open one (the caller counts it as malformed).
    pub fn push(&mut self, line: u32, e: &Event) -> bool {
        let fault = e.fault;
        match e.f {
            Function::Start => {
                self.open
                    .entry(fault)
                    .or_default()
                    .push_back(self.windows.len());
                self.windows.push(FaultWindow {
                    fault,
                    start: e.time,
                    stop: NEVER,
                    start_line: line,
                    stop_line: NONE,
                    detail: e.detail.clone(),
                });
                true
            }
            Function::Stop => match self.open.get_mut(&fault).and_then(VecDeque::pop_front) {
                Some(at) => {
                    let w = &mut self.windows[at];
                    w.stop = e.time;
                    w.stop_line = line;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Every window, in the order the faults started.
    pub fn finish(self) -> Vec<FaultWindow> {
        self.windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history;

    #[test]
    fn a_stop_closes_the_oldest_open_window_of_its_fault() {
        let text = r#"{"index":0,"process":"nemesis","type":"info","f":"start","time":10,"fault":"clock","detail":{"offsets_ms":{"n1":-4000}}}
{"index":1,"process":"nemesis","type":"info","f":"start","time":20,"fault":"partition"}
{"index":2,"process":"nemesis","type":"info","f":"start","time":25,"fault":"clock"}
{"index":3,"process":"nemesis","type":"info","f":"stop","time":30,"fault":"clock"}
{"index":4,"process":"nemesis","type":"info","f":"stop","time":40,"fault":"crash"}
"#;
        let mut w = FaultWindows::default();
        let pushed: Vec<bool> = read_history(text.as_bytes())
            .unwrap()
            .iter()
            .zip(0..)
            .map(|(e, line)| w.push(line, e))
            .collect();
        assert_eq!(pushed, [true, true, true, true, false]);
        let w = w.finish();
        assert_eq!(w.len(), 3);
        assert_eq!(
            (w[0].start, w[0].stop_time(), w[0].stop_line),
            (10, Some(30), 3)
        );
        assert_eq!(
            w[0].detail,
            Some(FaultDetail::Other(
                serde_json::json!({"offsets_ms": {"n1": -4000}})
            ))
        );
        assert_eq!(
            (w[1].fault, w[1].stop_time()),
            (Some(FaultKind::Partition), None)
        );
        assert_eq!(w[2].stop_time(), None);
    }
}

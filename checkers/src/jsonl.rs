//! Reading a run's JSON-lines files (history, final state, metrics) for a
//! reader that must not give up on a file: a line that does not parse is
//! skipped and counted, so one torn or foreign line never hides a million
//! good ones. The reports and the sweep read this way; the checkers read
//! stricter (only a torn *last* line is forgiven: [`crate::history`]).

use serde::de::DeserializeOwned;
use std::io::BufRead;

/// What a tolerant read got through.
#[derive(Debug, Default)]
pub struct TolerantRead {
    /// Lines that parsed and were handed on.
    pub values: usize,
    /// Lines that did not parse (blank lines are not counted).
    pub bad_lines: usize,
    /// The first of them: its line number (from 1) and why it did not parse.
    pub first_bad: Option<(usize, serde_json::Error)>,
    /// Reading itself failed at this line (from 1); nothing after it was read.
    pub stopped: Option<(usize, std::io::Error)>,
}

/// Streams every line of `r` that parses as a `T` into `each`, in order.
pub fn for_each_tolerant<T: DeserializeOwned>(
    mut r: impl BufRead,
    mut each: impl FnMut(T),
) -> TolerantRead {
    let mut out = TolerantRead::default();
    let mut line = String::new();
    let mut line_no = 0usize;
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => return out,
            Ok(_) => {}
            Err(e) => {
                out.stopped = Some((line_no + 1, e));
                return out;
            }
        }
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(v) => {
                each(v);
                out.values += 1;
            }
            Err(e) => {
                out.bad_lines += 1;
                out.first_bad.get_or_insert((line_no, e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_skipped_and_counted_and_blank_lines_ignored() {
        let text = "1\n\nx\n2\n{\"torn";
        let mut got: Vec<u32> = Vec::new();
        let r = for_each_tolerant(text.as_bytes(), |v| got.push(v));
        assert_eq!(got, [1, 2]);
        assert_eq!((r.values, r.bad_lines), (2, 2));
        assert_eq!(r.first_bad.map(|(line, _)| line), Some(3));
        assert!(r.stopped.is_none());
    }
}

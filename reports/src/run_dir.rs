//! Loading a run directory, tolerantly.
//!
//! A report is most needed when a run went wrong, and then its files may be
//! missing (the harness was killed before the final state), truncated or even
//! corrupt. So nothing here fails: every file yields what could be read plus,
//! when something was off, a note that the report shows in the section that
//! depends on that file.

use crate::metrics::MetricSample;
use crate::ops::{OpTable, OpTableBuilder};
use checkers::history::{Event, FinalLine, Process};
use checkers::jsonl::for_each_tolerant;
use checkers::results_file::ResultsFileError;
use checkers::results_file::tolerant::{self, ResultsView};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The file names of a run directory, from their one owner.
pub use checkers::run_files::{
    FINAL_STATE as FINAL_STATE_FILE, HISTORY as HISTORY_FILE, METRICS as METRICS_FILE,
    REPORT as REPORT_FILE, RESULTS as RESULTS_FILE,
};

/// Everything a report is built from, plus what went wrong reading it.
#[derive(Debug, Default)]
pub struct RunData {
    pub dir: PathBuf,
    /// The client ops of history.jsonl (streamed; see [`OpTableBuilder`]).
    pub ops: OpTable,
    /// The nemesis events of history.jsonl.
    pub nemesis: Vec<Event>,
    /// The latest event time in the history (ns), 0 when empty.
    pub last_event_time: u64,
    pub final_state: Vec<FinalLine>,
    pub metrics: Vec<MetricSample>,
    pub results: Option<ResultsView>,
    /// Files in the run directory other than the ones above (node logs,
    /// config), for the links section; names relative to the run directory.
    pub other_files: Vec<String>,
    pub notes: LoadNotes,
}

/// One optional note per input file; `None` means it was read completely.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LoadNotes {
    pub history: Option<String>,
    pub final_state: Option<String>,
    pub metrics: Option<String>,
    pub results: Option<String>,
}

impl RunData {
    /// Reads every file of `dir`; never fails (see the module comment).
    pub fn load(dir: &Path) -> RunData {
        let mut notes = LoadNotes::default();
        let (results, n) = read_results(&dir.join(RESULTS_FILE));
        notes.results = n;
        // Results first: the ops that anomalies cite are the only ones whose
        // keys and values the report shows, so only they keep their strings.
        let cited: HashSet<u64> = results
            .iter()
            .flat_map(|r| &r.checks)
            .flat_map(|c| &c.anomalies)
            .flat_map(|a| a.ops.iter().map(|e| e.index))
            .collect();
        let mut builder = OpTableBuilder::new(Some(cited));
        let mut nemesis = Vec::new();
        let mut last_event_time = 0;
        let (_, n) = for_each_jsonl::<Event>(&dir.join(HISTORY_FILE), |e| {
            last_event_time = last_event_time.max(e.time);
            if e.process == Process::Nemesis {
                nemesis.push(e);
            } else {
                builder.push(&e);
            }
        });
        notes.history = n;
        let (final_state, n) = read_jsonl_lenient::<FinalLine>(&dir.join(FINAL_STATE_FILE));
        notes.final_state = n;
        let (metrics, n) = read_jsonl_lenient::<MetricSample>(&dir.join(METRICS_FILE));
        notes.metrics = n;
        RunData {
            dir: dir.to_path_buf(),
            ops: builder.finish(),
            nemesis,
            last_event_time,
            final_state,
            metrics,
            results,
            other_files: list_other_files(dir),
            notes,
        }
    }
}

/// Reads a whole JSON-lines file leniently (see [`for_each_jsonl`]).
pub fn read_jsonl_lenient<T: DeserializeOwned>(path: &Path) -> (Vec<T>, Option<String>) {
    let mut out = Vec::new();
    let (_, note) = for_each_jsonl(path, |v| out.push(v));
    (out, note)
}

/// Streams a JSON-lines file line by line into `each`, skipping lines that
/// do not parse (counted in the note) rather than giving up on the whole
/// file ([`checkers::jsonl`]). Returns the number of values read and the
/// note, if any.
pub fn for_each_jsonl<T: DeserializeOwned>(
    path: &Path,
    each: impl FnMut(T),
) -> (usize, Option<String>) {
    let name = display_name(path);
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (
                0,
                Some(format!("{name} is missing from the run directory.")),
            );
        }
        Err(e) => return (0, Some(format!("{name} could not be opened: {e}."))),
    };
    let read = for_each_tolerant(BufReader::with_capacity(1 << 20, file), each);
    if let Some((line, e)) = read.stopped {
        let note = format!("{name}: reading stopped at line {line}: {e}.");
        return (read.values, Some(note));
    }
    let note = read.first_bad.map(|(line, err)| {
        format!(
            "{name}: {} unreadable line(s) skipped (first at line {line}: {err}).",
            read.bad_lines
        )
    });
    if read.values == 0 && note.is_none() {
        return (0, Some(format!("{name} is empty.")));
    }
    (read.values, note)
}

fn read_results(path: &Path) -> (Option<ResultsView>, Option<String>) {
    let name = display_name(path);
    let note = match tolerant::read(path) {
        Ok(r) => return (Some(r), None),
        Err(e) if e.is_missing() => format!(
            "{name} is missing: the checkers did not run (was the harness stopped early?). \
             Run `converge check RUN_DIR` to produce it."
        ),
        Err(ResultsFileError::Parse { source, .. }) => {
            format!("{name} could not be parsed: {source}.")
        }
        Err(ResultsFileError::Read { source, .. }) => {
            format!("{name} could not be read: {source}.")
        }
        // Reading never writes.
        Err(e) => format!("{e}."),
    };
    (None, Some(note))
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Lists the files the report links to besides the standard ones: every
/// other top-level file (config.toml, node.toml, ...) and, up to three levels
/// down, node logs (`*.log`, `stdout`, `stderr`, anything under `logs/`).
/// `data` directories (node storage) are not walked.
fn list_other_files(dir: &Path) -> Vec<String> {
    const STANDARD: [&str; 5] = [
        HISTORY_FILE,
        FINAL_STATE_FILE,
        METRICS_FILE,
        RESULTS_FILE,
        REPORT_FILE,
    ];
    fn is_log(rel: &str, name: &str) -> bool {
        name.ends_with(".log") || name == "stdout" || name == "stderr" || rel.starts_with("logs/")
    }
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_file() {
                let top_level_extra = depth == 0 && !STANDARD.contains(&name.as_str());
                if top_level_extra || (depth > 0 && is_log(&rel, &name)) {
                    out.push(rel);
                }
            } else if kind.is_dir() && depth < 3 && name != "data" {
                walk(&entry.path(), &rel, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", 0, &mut out);
    out.sort();
    out
}

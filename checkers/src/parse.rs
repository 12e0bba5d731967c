//! Fast, mostly zero-copy reading of `history.jsonl` into an [`OpTable`].
//!
//! [`crate::history::read_history`] builds one owned [`Event`] per line —
//! simple, but a 10M-op history is 20M lines and owned events would need
//! several GB. Here each line is parsed by serde_json into a struct that
//! borrows its strings from the line buffer (escaped strings, which the
//! harness never writes for its own keys and values, fall back to an owned
//! copy), fed straight to the [`OpTableBuilder`], and the buffer is reused.
//! Only nemesis lines, which carry free-form `detail`, are parsed whole.

use crate::history::{Event, EventType, Function, HistoryError, Process};
use crate::ops::{EventRef, OpTable, OpTableBuilder};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;

/// A string borrowed from the line when it has no escapes, owned otherwise.
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// `process` without the buffering an untagged enum would need.
struct Proc(Process);

impl<'de> Deserialize<'de> for Proc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Proc;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a process number or \"nemesis\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Proc, E> {
                u32::try_from(n)
                    .map(|n| Proc(Process::Client(n)))
                    .map_err(|_| E::custom(format!("process number {n} is too large")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Proc, E> {
                if s == "nemesis" {
                    Ok(Proc(Process::Nemesis))
                } else {
                    Err(E::custom(format!(
                        "process must be a number or \"nemesis\", got {s:?}"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One history line, borrowing from the line buffer. Unknown fields
/// (`index`, `node`, `error`, `detail`...) are skipped unparsed.
#[derive(Deserialize)]
struct Line<'a> {
    process: Proc,
    #[serde(rename = "type")]
    kind: EventType,
    f: Function,
    time: u64,
    #[serde(borrow, default)]
    key: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Text<'a>>,
    #[serde(borrow, default)]
    values: Option<Vec<Text<'a>>>,
    #[serde(borrow, default)]
    observed: Option<Vec<Text<'a>>>,
}

fn strs<'a>(v: &'a Option<Vec<Text<'_>>>) -> Option<Vec<&'a str>> {
    v.as_ref().map(|v| v.iter().map(|t| t.0.as_ref()).collect())
}

/// Calls `each(line_number, bytes)` for every non-blank line, numbering as
/// [`crate::history::read_history`] does (blank lines skipped), and tells
/// whether the line is the last one and lacks its newline.
fn for_each_line(
    mut r: impl BufRead,
    mut each: impl FnMut(u32, usize, &[u8], bool) -> Result<bool, HistoryError>,
) -> Result<(), HistoryError> {
    let mut buf = Vec::with_capacity(512);
    let mut number = 0u32;
    let mut file_line = 0usize;
    loop {
        buf.clear();
        let n = r
            .read_until(b'\n', &mut buf)
            .map_err(|source| HistoryError::Io {
                what: "history",
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        file_line += 1;
        let unterminated = buf.last() != Some(&b'\n');
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        if !each(number, file_line, text, unterminated)? {
            return Ok(());
        }
        number += 1;
    }
}

/// Reads a whole history into an op table in one pass. Like
/// [`crate::history::read_history`], a torn last line is skipped.
pub fn read_op_table(r: impl BufRead) -> Result<OpTable, HistoryError> {
    let mut b = OpTableBuilder::new();
    for_each_line(r, |_, file_line, text, unterminated| {
        let parse_err = |source| HistoryError::Parse {
            what: "history",
            line: file_line,
            source,
        };
        // Validating UTF-8 once per line is cheaper than serde_json
        // validating each borrowed string separately.
        let Ok(text) = std::str::from_utf8(text) else {
            if unterminated {
                // Torn mid-character: a torn last line.
                return Ok(false);
            }
            return Err(HistoryError::Parse {
                what: "history",
                line: file_line,
                source: serde::de::Error::custom("line is not valid UTF-8"),
            });
        };
        match serde_json::from_str::<Line>(text) {
            Ok(l) if l.process.0 == Process::Nemesis => {
                let e: Event = serde_json::from_str(text).map_err(parse_err)?;
                b.push_nemesis(e);
            }
            Ok(l) => b.push(&EventRef {
                process: l.process.0,
                kind: l.kind,
                f: l.f,
                time: l.time,
                key: l.key.as_ref().map(|t| t.0.as_ref()),
                value: l.value.as_ref().map(|t| t.0.as_ref()),
                values: strs(&l.values),
                observed: strs(&l.observed),
            }),
            Err(_) if unterminated && !text.ends_with('}') => return Ok(false),
            Err(source) => return Err(parse_err(source)),
        }
        Ok(true)
    })?;
    Ok(b.finish())
}

/// Fetches the events on the given line numbers, parsed whole, in a second
/// pass that only parses the wanted lines.
pub fn fetch_events(
    r: impl BufRead,
    wanted: &BTreeSet<u32>,
) -> Result<HashMap<u32, Event>, HistoryError> {
    let mut out = HashMap::with_capacity(wanted.len());
    let last = wanted.last().copied();
    for_each_line(r, |number, file_line, text, _| {
        if wanted.contains(&number) {
            let e = serde_json::from_slice(text).map_err(|source| HistoryError::Parse {
                what: "history",
                line: file_line,
                source,
            })?;
            out.insert(number, e);
        }
        Ok(Some(number) < last)
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history;
    use crate::ops::Outcome;

    const TEXT: &str = r#"{"index":0,"process":3,"type":"invoke","f":"write","time":10,"key":"k\"1","value":"3-0","node":"n1"}
{"index":1,"process":"nemesis","type":"info","f":"start","time":11,"fault":"partition","detail":{"cut":[["n1","n2"]]}}

{"index":2,"process":4,"type":"invoke","f":"read","time":12,"key":"k\"1"}
{"index":3,"process":3,"type":"ok","f":"write","time":13,"key":"k\"1","value":"3-0","node":"n1"}
{"index":4,"process":4,"type":"ok","f":"read","time":14,"key":"k\"1","values":["3-0"]}
{"index":5,"process":"nemesis","type":"info","f":"stop","time":15,"fault":"partition"}
{"index":6,"process":4,"type":"invoke","f":"delete","time":16,"key":"k\"1","observed":["3-0"]}
{"index":7,"pro"#;

    #[test]
    fn pairs_ops_and_reads_escapes_nemesis_windows_and_torn_tail() {
        let t = read_op_table(TEXT.as_bytes()).unwrap();
        assert_eq!(t.ops.len(), 3);
        assert_eq!(t.keys.resolve(t.ops[0].key), "k\"1");
        let w = &t.ops[0];
        assert_eq!(
            (w.outcome, w.invoke_line, w.complete_line),
            (Outcome::Ok, 0, 3)
        );
        let r = &t.ops[1];
        assert_eq!(t.vals(r), &[w.value().unwrap()]);
        assert_eq!(t.writer(w.value().unwrap()), Some(0));
        let d = &t.ops[2];
        assert_eq!(d.outcome, Outcome::Pending);
        assert_eq!(t.vals(d).len(), 1);
        assert_eq!(t.windows.len(), 1);
        assert_eq!((t.windows[0].start, t.windows[0].stop), (11, 15));
        assert_eq!(t.ops_on(t.ops[0].key), &[0, 1, 2]);
    }

    #[test]
    fn fetched_events_match_the_owned_reader() {
        let all = read_history(TEXT.as_bytes()).unwrap();
        let wanted: BTreeSet<u32> = [0, 3, 5].into();
        let got = fetch_events(TEXT.as_bytes(), &wanted).unwrap();
        for n in wanted {
            assert_eq!(got[&n], all[n as usize]);
        }
    }

    #[test]
    fn torn_middle_line_is_an_error_naming_its_line() {
        let text = "{\"index\":0,\"pro\n{\"index\":1,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n";
        assert!(matches!(
            read_op_table(text.as_bytes()),
            Err(HistoryError::Parse { line: 1, .. })
        ));
    }
}

//! Fast, mostly zero-copy reading of `history.jsonl` into an [`OpTable`].
//!
//! [`crate::history::read_history`] builds one owned [`Event`] per line —
//! simple, but a 10M-op history is 20M lines and owned events would need
//! several GB. Here each line is parsed by serde_json into a struct that
//! borrows its strings from the line buffer (escaped strings, which the
//! harness never writes for its own keys and values, fall back to an owned
//! copy), fed straight to the [`OpTableBuilder`], and the buffer is reused.
//! Only nemesis lines, which carry a fault's `detail`, are parsed whole
//! (into [`Event`], few and small).

use crate::history::{Event, EventType, FinalLine, Function, HistoryError, Process, ReplicaEntry};
use crate::node_id::NodeId;
use crate::ops::{EventRef, OpTable, OpTableBuilder, StrList};
use serde::Deserialize;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;

/// A string borrowed from the line when it has no escapes, owned otherwise.
#[derive(Debug)]
pub struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

/// Parses one history line straight into the builder: fields are read into
/// locals borrowing from the line (no intermediate struct is built and moved,
/// field names are matched once), unknown fields (`index`, `node`, `error`,
/// `detail`...) are skipped. Returns `true` for a nemesis line, which the
/// caller parses whole instead.
struct LineVisitor<'b> {
    builder: &'b mut OpTableBuilder,
}

impl<'de> serde::de::Visitor<'de> for LineVisitor<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a history event object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        use serde::de::Error;
        let mut process = None;
        let mut kind = None;
        let mut f = None;
        let mut time = None;
        let mut key: Option<Text<'de>> = None;
        let mut value: Option<Text<'de>> = None;
        let mut values: Option<SmallVec<[Text<'de>; 1]>> = None;
        let mut observed: Option<SmallVec<[Text<'de>; 1]>> = None;
        while let Some(field) = map.next_key::<Text<'de>>()? {
            match field.as_str() {
                "process" => process = Some(map.next_value::<Proc>()?.0),
                "type" => kind = Some(map.next_value::<EventType>()?),
                "f" => f = Some(map.next_value::<Function>()?),
                "time" => time = Some(map.next_value::<u64>()?),
                "key" => key = map.next_value()?,
                "value" => value = map.next_value()?,
                "values" => values = map.next_value()?,
                "observed" => observed = map.next_value()?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let process = process.ok_or_else(|| A::Error::missing_field("process"))?;
        let kind = kind.ok_or_else(|| A::Error::missing_field("type"))?;
        let f = f.ok_or_else(|| A::Error::missing_field("f"))?;
        let time = time.ok_or_else(|| A::Error::missing_field("time"))?;
        if process == Process::Nemesis {
            return Ok(true);
        }
        self.builder.push(&EventRef {
            process,
            kind,
            f,
            time,
            key: key.as_ref().map(Text::as_str),
            value: value.as_ref().map(Text::as_str),
            values: values.as_deref().map(StrList::Parsed),
            observed: observed.as_deref().map(StrList::Parsed),
        });
        Ok(false)
    }
}

/// Parses one line with [`LineVisitor`]; `Ok(true)` for a nemesis line.
fn parse_line(builder: &mut OpTableBuilder, text: &str) -> Result<bool, serde_json::Error> {
    use serde::Deserializer as _;
    let mut de = serde_json::Deserializer::from_str(text);
    let nemesis = (&mut de).deserialize_map(LineVisitor { builder })?;
    de.end()?;
    Ok(nemesis)
}

/// Calls `each(line_number, bytes)` for every non-blank line, numbering as
/// [`crate::history::read_history`] does (blank lines skipped), and tells
/// whether the line is the last one and lacks its newline.
fn for_each_line(
    mut r: impl BufRead,
    mut each: impl FnMut(u32, usize, &[u8], bool) -> Result<bool, HistoryError>,
) -> Result<(), HistoryError> {
    let io = |source| HistoryError::Io {
        what: "history",
        source,
    };
    // A line lying whole in the reader's buffer is handed over in place; only
    // a line straddling two buffer fills is copied into `partial`.
    let mut partial: Vec<u8> = Vec::new();
    let mut number = 0u32;
    let mut file_line = 0usize;
    let mut visit = |line: &[u8], unterminated: bool| -> Result<bool, HistoryError> {
        file_line += 1;
        let text = line.trim_ascii();
        if text.is_empty() {
            return Ok(true);
        }
        let go_on = each(number, file_line, text, unterminated)?;
        number += 1;
        Ok(go_on)
    };
    loop {
        let buf = r.fill_buf().map_err(io)?;
        if buf.is_empty() {
            // End of input: whatever is left is an unterminated last line.
            if !partial.is_empty() {
                visit(&partial, true)?;
            }
            return Ok(());
        }
        let Some(end) = memchr::memchr(b'\n', buf) else {
            partial.extend_from_slice(buf);
            let n = buf.len();
            r.consume(n);
            continue;
        };
        let go_on = if partial.is_empty() {
            visit(&buf[..end], false)?
        } else {
            partial.extend_from_slice(&buf[..end]);
            let go_on = visit(&partial, false)?;
            partial.clear();
            go_on
        };
        r.consume(end + 1);
        if !go_on {
            return Ok(());
        }
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
        match parse_line(&mut b, text) {
            Ok(true) => {
                let e: Event = serde_json::from_str(text).map_err(parse_err)?;
                b.push_nemesis(e);
            }
            Ok(false) => {}
            Err(_) if unterminated && !text.ends_with('}') => return Ok(false),
            Err(source) => return Err(parse_err(source)),
        }
        Ok(true)
    })?;
    Ok(b.finish())
}

/// A final-state line without the buffering an internally tagged enum
/// needs; `version`, opaque to the checkers, is skipped unparsed.
#[derive(Deserialize)]
struct FinalEntryLine<'a> {
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(default)]
    node: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    tombstone: bool,
}

/// Reads a final state like [`crate::history::read_final_state`], several
/// times faster on big clusters, but with each entry's `version` left null.
pub fn read_final_state_lines(r: impl BufRead) -> Result<Vec<FinalLine>, HistoryError> {
    let mut out = Vec::new();
    let err = |line, source| HistoryError::Parse {
        what: "final state",
        line,
        source,
    };
    let mut buf = Vec::new();
    let mut r = r;
    let mut n = 0;
    loop {
        buf.clear();
        let read = r
            .read_until(b'\n', &mut buf)
            .map_err(|source| HistoryError::Io {
                what: "final state",
                source,
            })?;
        if read == 0 {
            return Ok(out);
        }
        n += 1;
        let unterminated = buf.last() != Some(&b'\n');
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let line = match serde_json::from_slice::<FinalEntryLine>(text) {
            Ok(l) if l.kind.as_str() == "entry" => FinalLine::Entry(ReplicaEntry {
                node: NodeId(l.node),
                key: l.key,
                values: l.values,
                tombstone: l.tombstone,
                version: serde_json::Value::Null,
            }),
            Ok(_) => serde_json::from_slice(text).map_err(|e| err(n, e))?,
            Err(_) if unterminated && !text.ends_with(b"}") => return Ok(out),
            Err(e) => return Err(err(n, e)),
        };
        out.push(line);
    }
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
    fn lines_straddling_buffer_fills_read_the_same() {
        let whole = read_op_table(TEXT.as_bytes()).unwrap();
        for cap in [1, 5, 64, 100] {
            let small =
                read_op_table(std::io::BufReader::with_capacity(cap, TEXT.as_bytes())).unwrap();
            assert_eq!(small.lines, whole.lines, "capacity {cap}");
            assert_eq!(small.ops.len(), whole.ops.len());
            assert_eq!(small.windows, whole.windows);
            let wanted: BTreeSet<u32> = (0..whole.lines).collect();
            let got = fetch_events(
                std::io::BufReader::with_capacity(cap, TEXT.as_bytes()),
                &wanted,
            )
            .unwrap();
            assert_eq!(got.len(), whole.lines as usize);
        }
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
    fn fast_final_state_reader_matches_the_owned_one_but_for_versions() {
        let text = r#"{"kind":"summary","nodes":["n1","n2"],"converged":true,"healed_at":5,"converged_at":9,"rf":2}
{"kind":"entry","node":"n1","key":"k","values":["1-2"],"tombstone":false,"version":{"hlc":7}}

{"kind":"entry","node":"n2","key":"k","values":[],"tombstone":true,"version":null}
{"kind":"entry","node":"n2","ke"#;
        let mut slow = crate::history::read_final_state(text.as_bytes()).unwrap();
        for l in &mut slow {
            if let FinalLine::Entry(e) = l {
                e.version = serde_json::Value::Null;
            }
        }
        assert_eq!(read_final_state_lines(text.as_bytes()).unwrap(), slow);
        assert_eq!(slow.len(), 3);
        assert!(
            read_final_state_lines("{\"kind\":\"entry\",\"node\":1}\n{}\n".as_bytes()).is_err()
        );
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

//! Small helpers shared by the page builders: flattening JSON into rows,
//! formatting figures, and building safe relative links.

use crate::results::value_text;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use serde_json::Value;

/// A label and its value, both plain text (the template escapes them).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub value: String,
}

impl Row {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Row {
        Row {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A link to a file of the run or the store.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub href: String,
    pub label: String,
}

/// Characters that must be percent-encoded inside one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'\'')
    .add(b'&');

/// A relative URL from path segments, each percent-encoded, so a file or
/// test name with `?`, `#` or quotes still links to itself.
pub fn relative_href<'a>(segments: impl IntoIterator<Item = &'a str>) -> String {
    segments
        .into_iter()
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Flattens nested JSON into `a.b.c = value` rows, at most `limit` of them.
/// Long arrays are summarised rather than listed.
pub fn flatten(v: &Value, limit: usize) -> Vec<Row> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<Row>, limit: usize) {
        if out.len() >= limit {
            return;
        }
        let name = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    walk(&name(k), child, out, limit);
                }
            }
            Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                let shown: Vec<String> = items.iter().take(12).map(value_text).collect();
                let more = if items.len() > 12 {
                    format!(", … ({} items)", items.len())
                } else {
                    String::new()
                };
                out.push(Row::new(prefix, format!("[{}{more}]", shown.join(", "))));
            }
            Value::Array(items) => {
                out.push(Row::new(
                    prefix,
                    format!("{} entries (charted or in results.json)", items.len()),
                ));
            }
            // Empty tables and nulls say nothing; leave them out.
            Value::Object(_) | Value::Null => {}
            other => out.push(Row::new(prefix, value_text(other))),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out, limit);
    out
}

/// Seconds with millisecond precision.
pub fn secs(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e9)
}

/// A count without a trailing `.0`.
pub fn count(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_encode_each_segment() {
        assert_eq!(
            relative_href(["a b", "x?y#z", "r.html"]),
            "a%20b/x%3Fy%23z/r.html"
        );
    }

    #[test]
    fn nested_json_flattens_to_dotted_rows() {
        let v = serde_json::json!({"cluster": {"rf": 3, "conflict": "lww"}, "nodes": ["n1", "n2"]});
        let rows = flatten(&v, 10);
        let pairs: Vec<(String, String)> = rows.into_iter().map(|r| (r.name, r.value)).collect();
        assert_eq!(
            pairs,
            vec![
                ("cluster.conflict".into(), "lww".into()),
                ("cluster.rf".into(), "3".into()),
                ("nodes".into(), "[n1, n2]".into())
            ]
        );
    }
}

//! The verdict as a page shows it, and JSON values as short text.
//!
//! results.json itself is defined once, in [`checkers::results_file`]; the
//! reports read it through its tolerant reading
//! ([`checkers::results_file::tolerant`]), since a report must render
//! results written by older or newer versions too.

use checkers::Validity;
use serde::Serialize;
use serde_json::Value;

/// The verdict of a run or a checker, as the pages name it (the CSS class
/// and the words of the banner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    #[default]
    Unknown,
}

impl From<Validity> for Verdict {
    fn from(v: Validity) -> Verdict {
        match v {
            Validity::True => Verdict::Valid,
            Validity::False => Verdict::Invalid,
            Validity::Unknown => Verdict::Unknown,
        }
    }
}

impl Verdict {
    /// Words for the banner and the index.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "anomalies found",
            Verdict::Unknown => "unknown",
        }
    }
}

/// A JSON value as a short human string: strings without quotes, fractions
/// to at most three decimals (timings arrive with nanosecond digits).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let s = format!("{x:.3}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_short_text() {
        assert_eq!(value_text(&serde_json::json!(15.014224822)), "15.014");
        assert_eq!(value_text(&serde_json::json!(2.0)), "2");
        assert_eq!(value_text(&serde_json::json!(7)), "7");
    }
}

//! Human durations (`500ms`, `30s`, `2m`, `3h`, `10d`) for flags and the
//! config file.
//!
//! A newtype rather than `humantime` so the accepted grammar is exactly the one
//! the node contract (docs/node-api.md) uses for its own durations, and so the
//! effective config stored with a run prints them back in the same form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration written as a number and a unit: `ms`, `s`, `m`, `h` or `d`.
/// Fractions are allowed (`1.5s`); a bare number is rejected, because a unit
/// left out is the commonest way to ask for 1000× what you meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (write e.g. 500ms, 30s, 2m, 3h, 10d)")]
pub struct DurationError {
    input: String,
    reason: &'static str,
}

impl HumanDuration {
    pub fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    pub fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| DurationError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| err("missing unit"))?;
        let (number, unit) = s.split_at(split);
        if number.is_empty() {
            return Err(err("missing number"));
        }
        let value: f64 = number.parse().map_err(|_| err("not a number"))?;
        let unit_secs = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(err("unknown unit")),
        };
        let secs = value * unit_secs;
        if !secs.is_finite() || secs > 1e12 {
            return Err(err("too large"));
        }
        Ok(Self(Duration::from_secs_f64(secs)))
    }
}

impl fmt::Display for HumanDuration {
    /// Prints the largest unit that represents the value exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !self.0.subsec_nanos().is_multiple_of(1_000_000) {
            return write!(f, "{}ms", self.0.as_secs_f64() * 1000.0);
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms != 0 && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses() {
        let p = |s: &str| s.parse::<HumanDuration>().unwrap().get();
        assert_eq!(p("500ms"), Duration::from_millis(500));
        assert_eq!(p("30s"), Duration::from_secs(30));
        assert_eq!(p("2m"), Duration::from_secs(120));
        assert_eq!(p("3h"), Duration::from_secs(3 * 3600));
        assert_eq!(p("10d"), Duration::from_secs(10 * 86400));
        assert_eq!(p("1.5s"), Duration::from_millis(1500));
    }

    #[test]
    fn missing_or_unknown_units_are_rejected_with_the_input_named() {
        for bad in ["30", "ms", "5 parsecs", "1x", "", "-1s"] {
            let e = bad.parse::<HumanDuration>().unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["500ms", "30s", "2m", "3h", "10d", "1500ms"] {
            assert_eq!(s.parse::<HumanDuration>().unwrap().to_string(), s);
        }
    }
}

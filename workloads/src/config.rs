//! What a workload is made of: its kind, its op mix, its key distribution.
//!
//! These are the knobs a user sets in a test's TOML file or on the command
//! line, so parsing errors name the bad part in a sentence.

use crate::lifecycle::LifecycleConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which client protocol the ops follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Blind writes and deletes: no context is read first. Meant for `lww`.
    Register,
    /// Each delete and most writes first read the key and send that read's
    /// causal context, recording which values it observed; the other writes
    /// ([`WorkloadConfig::blind_writes`]) are blind, as a client that never
    /// read the key sends them. Meant for `dvv`.
    Causal,
}

impl FromStr for WorkloadKind {
    type Err = WorkloadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "register" => Ok(WorkloadKind::Register),
            "causal" => Ok(WorkloadKind::Causal),
            other => Err(WorkloadError::UnknownKind(other.to_string())),
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Causal => "causal",
        })
    }
}

/// The op mix, in percentages that sum to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    pub read: u32,
    pub write: u32,
    pub delete: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            read: 50,
            write: 40,
            delete: 10,
        }
    }
}

impl Mix {
    /// Checks that the percentages sum to 100.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let sum = self.read as u64 + self.write as u64 + self.delete as u64;
        if sum == 100 {
            Ok(())
        } else {
            Err(WorkloadError::MixSum(sum))
        }
    }
}

impl FromStr for Mix {
    type Err = WorkloadError;
    /// Parses `"read=50,write=40,delete=10"`; an omitted op gets 0%.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut mix = Mix {
            read: 0,
            write: 0,
            delete: 0,
        };
        let mut seen = [false; 3];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || WorkloadError::MixPart(part.to_string());
            let (name, pct) = part.split_once('=').ok_or_else(bad)?;
            let pct: u32 = pct.trim().parse().map_err(|_| bad())?;
            let slot = match name.trim() {
                "read" => 0,
                "write" => 1,
                "delete" => 2,
                _ => return Err(bad()),
            };
            if seen[slot] {
                return Err(WorkloadError::MixPart(part.to_string()));
            }
            seen[slot] = true;
            match slot {
                0 => mix.read = pct,
                1 => mix.write = pct,
                _ => mix.delete = pct,
            }
        }
        mix.validate()?;
        Ok(mix)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read={},write={},delete={}",
            self.read, self.write, self.delete
        )
    }
}

/// Everything that determines a workload's op streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadConfig {
    pub kind: WorkloadKind,
    /// How many distinct keys (`k0` .. `k{keys-1}`).
    pub keys: u64,
    /// The Zipf exponent `s`: key rank `r` is chosen with weight `1/r^s`.
    pub zipf_exponent: f64,
    /// Share of ops (0..=1) whose key is chosen uniformly instead, so that
    /// cold keys are touched too (anti-entropy must repair them).
    pub uniform_share: f64,
    pub mix: Mix,
    /// Causal workload: the share of writes (0..=1) sent without a context.
    /// A blind write is concurrent with every stored value, so it must
    /// become a sibling; it is also the write that exposes a node minting
    /// a dot it already issued (actor reuse after data loss, Riak's kv679),
    /// since a context would carry the node's old counter past it.
    #[serde(default)]
    pub blind_writes: f64,
    /// Key lifecycles beside the Zipf ops (`lifecycle.rs`); `None`: none.
    #[serde(default)]
    pub lifecycle: Option<LifecycleConfig>,
    pub seed: u64,
}

impl Default for WorkloadConfig {
    /// A register workload over 1000 keys where ~1% of keys take most ops
    /// (Zipf s = 1.3: the top 10 keys take ~60%), with 5% of ops spread
    /// uniformly; as a causal workload, one write in five is blind. Each
    /// process also runs a key lifecycle step every 250 ms.
    fn default() -> Self {
        WorkloadConfig {
            kind: WorkloadKind::Register,
            keys: 1000,
            zipf_exponent: 1.3,
            uniform_share: 0.05,
            mix: Mix::default(),
            blind_writes: 0.2,
            lifecycle: Some(LifecycleConfig::default()),
            seed: 0,
        }
    }
}

impl WorkloadConfig {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.keys == 0 {
            return Err(WorkloadError::NoKeys);
        }
        if !(self.zipf_exponent >= 0.0 && self.zipf_exponent.is_finite()) {
            return Err(WorkloadError::Exponent(self.zipf_exponent));
        }
        if !(0.0..=1.0).contains(&self.uniform_share) {
            return Err(WorkloadError::UniformShare(self.uniform_share));
        }
        if !(0.0..=1.0).contains(&self.blind_writes) {
            return Err(WorkloadError::BlindWrites(self.blind_writes));
        }
        self.mix.validate()
    }
}

/// A workload that cannot be built, named for the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error("unknown workload kind {0:?}: use \"register\" or \"causal\"")]
    UnknownKind(String),
    #[error(
        "bad op mix part {0:?}: write e.g. \"read=50,write=40,delete=10\" (each op once, whole percentages)"
    )]
    MixPart(String),
    #[error("op mix percentages sum to {0}, not 100")]
    MixSum(u64),
    #[error("a workload needs at least one key")]
    NoKeys,
    #[error("Zipf exponent must be a finite number >= 0, got {0}")]
    Exponent(f64),
    #[error("uniform key share must be between 0 and 1, got {0}")]
    UniformShare(f64),
    #[error("blind write share must be between 0 and 1, got {0}")]
    BlindWrites(f64),
    #[error("rate limit must be a finite number of ops/s > 0, got {0}")]
    Rate(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_names_the_bad_part() {
        let mix: Mix = "read=50, write=40,delete=10".parse().unwrap();
        assert_eq!(mix, Mix::default());
        assert_eq!(mix.to_string().parse::<Mix>().unwrap(), mix);
        let read_only: Mix = "read=100".parse().unwrap();
        assert_eq!(read_only.write, 0);
        let err = "read=50,wirte=50".parse::<Mix>().unwrap_err();
        assert_eq!(err, WorkloadError::MixPart("wirte=50".into()));
        assert!(err.to_string().contains("wirte=50"));
        assert_eq!(
            "read=50,write=x".parse::<Mix>().unwrap_err(),
            WorkloadError::MixPart("write=x".into())
        );
        assert_eq!(
            "read=50,write=40".parse::<Mix>().unwrap_err(),
            WorkloadError::MixSum(90)
        );
        assert!(matches!(
            "read=50,read=50".parse::<Mix>(),
            Err(WorkloadError::MixPart(_))
        ));
    }

    #[test]
    fn kind_parses() {
        assert_eq!(
            "causal".parse::<WorkloadKind>().unwrap(),
            WorkloadKind::Causal
        );
        assert!("cas".parse::<WorkloadKind>().is_err());
    }

    #[test]
    fn config_validation_names_the_field() {
        assert!(WorkloadConfig::default().validate().is_ok());
        let bad = WorkloadConfig {
            uniform_share: 1.5,
            ..WorkloadConfig::default()
        };
        assert_eq!(bad.validate(), Err(WorkloadError::UniformShare(1.5)));
        let none = WorkloadConfig {
            keys: 0,
            ..WorkloadConfig::default()
        };
        assert_eq!(none.validate(), Err(WorkloadError::NoKeys));
    }
}

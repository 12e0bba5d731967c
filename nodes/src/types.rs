//! Small domain types shared by every module: who a node is, what a key is,
//! and which conflict-resolution mode the cluster runs.
//!
//! They exist so that module boundaries say `NodeId` and `Key` instead of two
//! interchangeable `String`s.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A cluster member's id as given by `--id` (e.g. `n1`). Cheap to clone: ids
/// travel with every version and every internode request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Ok(NodeId(Arc::from(id)))
    }
}

impl NodeId {
    /// Wraps an id string; the caller has validated it (see `cli`).
    pub fn new(id: &str) -> Self {
        NodeId(Arc::from(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest key accepted by the client API, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest value accepted by the client API, in bytes of UTF-8.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// A client key: a non-empty UTF-8 string of at most [`MAX_KEY_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key(String);

/// Why a client-supplied key or value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("key is empty")]
    EmptyKey,
    #[error("key is {0} bytes; the limit is {MAX_KEY_BYTES}")]
    KeyTooLong(usize),
    #[error("value is empty")]
    EmptyValue,
    #[error("value is {0} bytes; the limit is {MAX_VALUE_BYTES}")]
    ValueTooLong(usize),
}

impl Key {
    /// Validates a client key.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        match raw.len() {
            0 => Err(InputError::EmptyKey),
            n if n > MAX_KEY_BYTES => Err(InputError::KeyTooLong(n)),
            _ => Ok(Key(raw.to_owned())),
        }
    }

    /// Wraps a key read back from storage or the wire (already validated once).
    pub fn from_stored(raw: String) -> Self {
        Key(raw)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Validates a client value.
pub fn check_value(value: &str) -> Result<(), InputError> {
    match value.len() {
        0 => Err(InputError::EmptyValue),
        n if n > MAX_VALUE_BYTES => Err(InputError::ValueTooLong(n)),
        _ => Ok(()),
    }
}

/// How concurrent writes to one key are resolved; cluster-wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictMode {
    /// Last write wins on hybrid-logical-clock timestamps.
    Lww,
    /// Dotted version vectors: concurrent writes are kept as siblings.
    Dvv,
}

impl fmt::Display for ConflictMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConflictMode::Lww => "lww",
            ConflictMode::Dvv => "dvv",
        })
    }
}

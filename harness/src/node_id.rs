//! [`NodeId`]: the name of one replica (`n1`, `n2`, ...), as passed to
//! `converge-node --id` and recorded in the history's `node` field.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One replica's id. A newtype so node names, keys and values cannot be mixed
/// up at module boundaries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub String);

impl NodeId {
    /// The conventional id of the `i`-th node (0-based): `n1`, `n2`, ...
    pub fn nth(i: usize) -> Self {
        Self(format!("n{}", i + 1))
    }

    /// The ids of an `n`-node cluster: `n1..=nN`.
    pub fn cluster(n: usize) -> Vec<NodeId> {
        (0..n).map(Self::nth).collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

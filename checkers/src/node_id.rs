//! [`NodeId`]: the name of one replica (`n1`, `n2`, ...), as passed to
//! `converge-node --id` and recorded in the history's `node` field, a
//! fault's `detail` and the final state.
//!
//! It lives here, in the lowest crate that reads histories, so the harness
//! that writes the name and every reader that reads it share one type.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;

/// One replica's id. A newtype so node names, keys and values cannot be mixed
/// up at module boundaries. Serialized as the bare string.
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

/// Lets maps keyed by node be looked up by a plain name. Sound because
/// `NodeId`'s `Eq`, `Ord` and `Hash` are the string's own.
impl Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for NodeId {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl From<String> for NodeId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl PartialEq<str> for NodeId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for NodeId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<NodeId> for str {
    fn eq(&self, other: &NodeId) -> bool {
        self == other.0
    }
}

impl PartialEq<NodeId> for &str {
    fn eq(&self, other: &NodeId) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_node_id_is_its_name_in_json_in_text_and_as_a_map_key() {
        let n = NodeId::nth(2);
        assert_eq!(n, "n3");
        assert_eq!(n.to_string(), "n3");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"n3\"");
        assert_eq!(serde_json::from_str::<NodeId>("\"n3\"").unwrap(), n);
        let m: BTreeMap<NodeId, u32> = [(n, 1)].into();
        assert_eq!(m.get("n3"), Some(&1));
        assert_eq!(NodeId::cluster(2), ["n1", "n2"]);
    }
}

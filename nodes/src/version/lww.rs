//! Last-write-wins versions: a record is one value (or a tombstone) stamped
//! with the coordinator's HLC timestamp and id.
//!
//! Merge keeps the larger of two records under a total order, so it is
//! commutative, associative and idempotent by construction. The order is
//! (timestamp, tombstone, node, value): on equal timestamps a tombstone
//! wins (a delete is never undone by a write it tied with), then the node id
//! breaks ties, and finally the value, so that even two records that agree
//! on everything else merge the same way on every replica.

use crate::clock::HlcTimestamp;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One LWW version of a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LwwRecord {
    /// Assigned by the coordinating node's HLC.
    pub timestamp: HlcTimestamp,
    /// The coordinator, as the tie-breaker between equal timestamps.
    pub coordinator: NodeId,
    /// `None` is a tombstone.
    pub value: Option<String>,
}

impl LwwRecord {
    fn order_key(&self) -> (HlcTimestamp, bool, &NodeId, &Option<String>) {
        (
            self.timestamp,
            self.value.is_none(),
            &self.coordinator,
            &self.value,
        )
    }

    /// The winner of `self` and `other`.
    pub fn merge(self, other: LwwRecord) -> LwwRecord {
        match self.order_key().cmp(&other.order_key()) {
            Ordering::Less => other,
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = LwwRecord> {
        (0u64..4, 0u32..3, 0usize..3, proptest::option::of("[ab]")).prop_map(
            |(physical_us, logical, node, value)| LwwRecord {
                timestamp: HlcTimestamp {
                    physical_us,
                    logical,
                },
                coordinator: NodeId::new(&format!("n{node}")),
                value,
            },
        )
    }

    #[test]
    fn tombstone_wins_an_equal_timestamp() {
        let ts = HlcTimestamp {
            physical_us: 5,
            logical: 0,
        };
        let write = LwwRecord {
            timestamp: ts,
            coordinator: NodeId::new("n9"),
            value: Some("v".into()),
        };
        let delete = LwwRecord {
            timestamp: ts,
            coordinator: NodeId::new("n1"),
            value: None,
        };
        assert_eq!(write.clone().merge(delete.clone()), delete);
        assert_eq!(delete.clone().merge(write), delete);
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in record(), b in record()) {
            prop_assert_eq!(a.clone().merge(b.clone()), b.merge(a));
        }

        #[test]
        fn merge_is_associative(a in record(), b in record(), c in record()) {
            prop_assert_eq!(
                a.clone().merge(b.clone()).merge(c.clone()),
                a.merge(b.merge(c))
            );
        }

        #[test]
        fn merge_is_idempotent(a in record()) {
            prop_assert_eq!(a.clone().merge(a.clone()), a);
        }

        #[test]
        fn later_timestamp_always_wins(a in record(), b in record()) {
            prop_assume!(a.timestamp != b.timestamp);
            let later = if a.timestamp > b.timestamp { a.clone() } else { b.clone() };
            prop_assert_eq!(a.merge(b), later);
        }
    }
}

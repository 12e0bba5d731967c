//! [`NodeId`]: the name of one replica (`n1`, `n2`, ...). The type is the
//! history's (`checkers::node_id`), since the harness records it there; it
//! is re-exported here so the harness names it where it always has.

pub use checkers::node_id::NodeId;

//! [`FaultKind`]: the faults a run can inject, as named on the command line
//! (`--nemesis partition,clock,crash,pause,wipe,link` or `none`) and in the
//! history's `fault` field. The type is the history's (`checkers::fault`),
//! since the nemesis records it there; it is re-exported here so the
//! harness names it where it always has.

pub use checkers::fault::{FaultKind, UnknownFault};

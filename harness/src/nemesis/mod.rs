//! Fault injection: which faults exist ([`fault`]), when and where they
//! happen ([`schedule`], a pure function of the seed), and the executor that
//! applies them through the cluster's seams and records them ([`runner`]).

pub mod fault;
pub mod runner;
pub mod schedule;

pub use fault::FaultKind;

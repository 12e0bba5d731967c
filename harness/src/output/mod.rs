//! What the operator sees: the live progress line, the closing per-checker
//! table, and the JUnit XML for CI systems.

pub mod junit;
pub mod progress;
pub mod table;

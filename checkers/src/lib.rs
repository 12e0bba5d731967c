//! History analysis for converge.
//!
//! This crate is pure: it reads a history (`history.jsonl`) and a final state
//! (`final-state.jsonl`) and returns verdicts. It opens no sockets and starts no
//! processes, so `converge check` can re-run it on any stored run, and other
//! tools can use it as a library.
//!
//! Map of modules:
//! - [`history`]: the event and final-state types, their JSONL reader and writer
//!   (the file format is documented in docs/history.md).

pub mod history;

//! Fuzz target `client_context`: feeds arbitrary bytes to
//! `converge_node::untrusted::client_context`, the same entry point the stable corpus
//! replay test (nodes/tests/fuzz_corpus.rs) uses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| converge_node::untrusted::client_context(data));

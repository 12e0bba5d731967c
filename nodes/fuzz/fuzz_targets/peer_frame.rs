//! Fuzz target `peer_frame`: feeds arbitrary bytes to
//! `converge_node::untrusted::peer_frame`, the same entry point the stable corpus
//! replay test (nodes/tests/fuzz_corpus.rs) uses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| converge_node::untrusted::peer_frame(data));

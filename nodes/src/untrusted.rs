//! Every decoder of bytes that come from outside the node, one entry point
//! per fuzz target (nodes/fuzz): client request bodies and query strings,
//! client contexts, internode frames, and Merkle session messages.
//!
//! They exist so the fuzz targets and the stable corpus replay test
//! (nodes/tests/fuzz_corpus.rs) drive exactly the code the node runs, and so
//! that what "handled" means is written once: each function accepts any
//! bytes, must neither panic nor hang, and asserts the invariants an
//! accepted input has to satisfy (an accepted context is safe to mint on and
//! round-trips; a decoded frame re-encodes). Errors are the expected outcome
//! for most inputs and are dropped.

use crate::http::kv::{Limits, parse_delete, parse_get, parse_put};
use crate::merkle::{
    Initiator, LwwRecord, LwwRule, MemoryRangeStore, Request, Responder, Response, SessionConfig,
};
use crate::peer::protocol::Frame;
use crate::types::ConflictMode;
use crate::version::context::ClientContext;
use crate::version::{DvvRecord, Record};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const MODES: [ConflictMode; 2] = [ConflictMode::Lww, ConflictMode::Dvv];

/// A client context: the bytes as the context string, and the bytes as the
/// postcard inside one (base64-encoded here, so byte-level mutations reach
/// the decoder behind the base64 layer), as either conflict mode would
/// decode them.
pub fn client_context(data: &[u8]) {
    let wrapped = URL_SAFE_NO_PAD.encode(data);
    let texts = [std::str::from_utf8(data).ok(), Some(wrapped.as_str())];
    for text in texts.into_iter().flatten() {
        for mode in MODES {
            let Ok(context) = ClientContext::decode(text, mode) else {
                continue;
            };
            if let ClientContext::Dvv(seen) = &context {
                assert_eq!(seen.check(), Ok(()), "decode let a bad context through");
                // Whatever a client sends, minting on it must not overflow,
                // whichever of its actors the minting replica is.
                for actor in seen.actors() {
                    let minted = DvvRecord::mint(None, seen, actor, Some("v".into()), 0);
                    assert!(minted.is_ok(), "an accepted context broke minting");
                }
            }
            let again = ClientContext::decode(&context.encode(), mode);
            assert_eq!(again.as_ref(), Ok(&context), "context does not round-trip");
        }
    }
}

/// A client request: the first line is the raw (already percent-decoded)
/// key, the second the query string, the rest the body; parsed as a GET, a
/// PUT and a DELETE under both conflict modes.
pub fn http_request(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let key = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let query = parts.next().map(String::from_utf8_lossy);
    let body = parts.next().unwrap_or_default();
    for mode in MODES {
        let limits = Limits {
            mode,
            rf: 3,
            default_r: 2,
            default_w: 2,
        };
        if let Ok((_, r)) = parse_get(&key, query.as_deref(), limits) {
            assert!((1..=3).contains(&r));
        }
        let writes = [
            parse_put(&key, query.as_deref(), body, limits),
            parse_delete(&key, query.as_deref(), body, limits),
        ];
        for write in writes.iter().flatten() {
            assert!((1..=3).contains(&write.w));
            assert!(write.value.as_ref().is_none_or(|v| !v.is_empty()));
        }
    }
}

/// One internode frame (every `PeerRequest` and `PeerResponse` travels in
/// one), and the same bytes as a stored or shipped record.
pub fn peer_frame(data: &[u8]) {
    if let Ok(frame) = Frame::from_bytes(data) {
        let bytes = frame.to_bytes();
        assert!(bytes.is_ok(), "a decoded frame does not re-encode");
        if let Ok(bytes) = bytes {
            assert!(
                Frame::from_bytes(&bytes).is_ok(),
                "a re-encoded frame does not decode"
            );
        }
    }
    if let Ok(record) = Record::from_bytes(data) {
        let _ = record.values();
        let _ = record.version_json();
        let _ = Record::merge_into(None, &record).merge(&record);
    }
}

/// A range of 64 LWW keys, the state a session runs against.
fn range() -> Option<MemoryRangeStore<LwwRule>> {
    let records = (0..64u64).map(|i| {
        let record = LwwRecord {
            timestamp: i,
            tombstone: i % 7 == 0,
            value: format!("value-{i}").into_bytes(),
        };
        (format!("key-{i}").into_bytes(), record)
    });
    MemoryRangeStore::from_records(LwwRule, 4, records).ok()
}

/// A stream of Merkle session messages: decoded one after another as
/// requests fed to one responder, then as responses fed to one initiator
/// (so later messages reach the states earlier ones lead to).
pub fn merkle_wire(data: &[u8]) {
    let Some(mut store) = range() else {
        return;
    };
    let mut responder = Responder::new();
    let mut rest = data;
    while let Ok((request, tail)) = postcard::take_from_bytes::<Request>(rest) {
        if responder.handle(&mut store, request).is_err() || tail.len() == rest.len() {
            break;
        }
        rest = tail;
    }
    let Some(mut store) = range() else {
        return;
    };
    for config in [SessionConfig::merkle(7), SessionConfig::full(7)] {
        let mut initiator = Initiator::new(config);
        if initiator.start(&store).is_err() {
            continue;
        }
        let mut rest = data;
        while let Ok((response, tail)) = postcard::take_from_bytes::<Response>(rest) {
            match initiator.on_response(&mut store, response) {
                Ok(Some(_)) if tail.len() < rest.len() => rest = tail,
                _ => break,
            }
        }
    }
}

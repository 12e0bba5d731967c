//! The fuzz corpora as a stable regression test: every file committed under
//! `nodes/fuzz/corpus/<target>/` goes through the same
//! `converge_node::untrusted` entry point its cargo-fuzz target calls, so an
//! input that once crashed (and was fixed, and added to the corpus) can
//! never crash again unnoticed, without nightly or libFuzzer in CI.
//!
//! `write_seed_corpus` (ignored) writes the hand-made seeds a fresh corpus
//! starts from: real encodings of every message kind, which get a fuzzer
//! past the enum tags quickly. See nodes/fuzz/README.md.

use converge_node::clock::HlcTimestamp;
use converge_node::merkle::{Request, Response, WireEntry};
use converge_node::peer::protocol::{ClusterSettings, Frame, PeerRequest, PeerResponse};
use converge_node::types::{ConflictMode, Key, NodeId};
use converge_node::version::context::ClientContext;
use converge_node::version::dvv::{CausalContext, Dot, DvvRecord};
use converge_node::version::{LwwRecord, Record};
use std::path::{Path, PathBuf};

type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 4] = [
    ("client_context", converge_node::untrusted::client_context),
    ("http_request", converge_node::untrusted::http_request),
    ("peer_frame", converge_node::untrusted::peer_frame),
    ("merkle_wire", converge_node::untrusted::merkle_wire),
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
        .join(target)
}

#[test]
fn every_committed_corpus_input_is_handled_without_a_panic() {
    for (target, run) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(
            files.len() >= 5,
            "corpus {} holds only {} inputs",
            dir.display(),
            files.len()
        );
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} panicked on {}", file.display());
        }
    }
}

fn dvv_context() -> CausalContext {
    let mut cc = CausalContext::new();
    for counter in [1, 2, 5] {
        cc.insert(Dot {
            node: NodeId::new("n1"),
            counter,
        });
    }
    cc.insert(Dot {
        node: NodeId::new("n2#00ff00ff00ff00ff"),
        counter: 1,
    });
    cc
}

fn records() -> Vec<Record> {
    let lww = Record::Lww(LwwRecord {
        timestamp: HlcTimestamp {
            physical_us: 1_700_000_000_000_000,
            logical: 3,
        },
        coordinator: NodeId::new("n1"),
        value: Some("v".into()),
    });
    let (dvv, _) = DvvRecord::mint(
        None,
        &dvv_context(),
        &NodeId::new("n1"),
        Some("x".into()),
        5,
    )
    .unwrap();
    vec![lww, Record::Dvv(dvv)]
}

fn frames() -> Vec<Frame> {
    let key = Key::parse("k").unwrap();
    let clock = HlcTimestamp {
        physical_us: 1_700_000_000_000_000,
        logical: 0,
    };
    let [lww, dvv] = <[Record; 2]>::try_from(records()).unwrap();
    let requests = vec![
        PeerRequest::Read { key: key.clone() },
        PeerRequest::Merge {
            key: key.clone(),
            record: dvv.clone(),
        },
        PeerRequest::Mint {
            key: key.clone(),
            context: dvv_context(),
            value: Some("v".into()),
            written_ms: 9,
        },
        PeerRequest::AntiEntropy {
            from: NodeId::new("n2"),
            replicas: vec![NodeId::new("n1"), NodeId::new("n2")],
            session: 4,
            request: Request::Open { salt: 1 },
        },
        PeerRequest::AntiEntropyEnd {
            from: NodeId::new("n2"),
            session: 4,
        },
    ];
    let responses = vec![
        PeerResponse::Read(Some(lww)),
        PeerResponse::Merged,
        PeerResponse::AntiEntropy(Response::Root {
            hash: [1; 8],
            count: 2,
        }),
        PeerResponse::Minted {
            record: dvv,
            context: dvv_context(),
        },
        PeerResponse::Failed("no".into()),
        PeerResponse::Ended,
    ];
    let mut frames = vec![
        Frame::Hello {
            from: NodeId::new("n1"),
            to: NodeId::new("n2"),
            settings: ClusterSettings {
                rf: 3,
                conflict: ConflictMode::Dvv,
                vnodes: 64,
                members: vec![NodeId::new("n1"), NodeId::new("n2")],
            },
        },
        Frame::Welcome,
        Frame::Refused {
            reason: "why".into(),
        },
    ];
    frames.extend(
        requests
            .into_iter()
            .enumerate()
            .map(|(id, body)| Frame::Request {
                id: id as u64,
                clock,
                body,
            }),
    );
    frames.extend(
        responses
            .into_iter()
            .enumerate()
            .map(|(id, body)| Frame::Response {
                id: id as u64,
                clock,
                body,
            }),
    );
    frames
}

fn merkle_streams() -> Vec<Vec<u8>> {
    let entry = WireEntry {
        key: b"key-1".to_vec(),
        record: postcard::to_stdvec(&(1u64, false, b"v".to_vec())).unwrap(),
    };
    let requests = [
        vec![Request::Open { salt: 3 }],
        vec![
            Request::Open { salt: 3 },
            Request::Step {
                keep: vec![1],
                pull_all: vec![],
                pull: vec![],
                push: vec![entry.clone()],
            },
            Request::Step {
                keep: vec![3],
                pull_all: vec![0],
                pull: vec![0, 1],
                push: vec![],
            },
        ],
        vec![Request::FullChunk {
            level: 2,
            prefix: 1,
            entries: vec![entry.clone()],
        }],
    ];
    let responses = [
        vec![Response::Root {
            hash: [0; 8],
            count: 64,
        }],
        vec![Response::FullChunk {
            entries: vec![entry],
        }],
    ];
    let mut out: Vec<Vec<u8>> = Vec::new();
    for stream in requests {
        out.push(
            stream
                .iter()
                .flat_map(|m| postcard::to_stdvec(m).unwrap())
                .collect(),
        );
    }
    for stream in responses {
        out.push(
            stream
                .iter()
                .flat_map(|m| postcard::to_stdvec(m).unwrap())
                .collect(),
        );
    }
    out
}

fn http_requests() -> Vec<Vec<u8>> {
    let dvv = ClientContext::Dvv(dvv_context()).encode();
    let lww = ClientContext::Lww(Some(HlcTimestamp::default())).encode();
    [
        "k\n\n{\"value\": \"v\"}".to_string(),
        format!("k\nw=3\n{{\"value\": \"v\", \"context\": \"{dvv}\"}}"),
        format!("cart\nr=1&w=2\n{{\"context\": \"{lww}\"}}"),
        "k\nw=9\n".to_string(),
        "\n\n{\"value\": \"\"}".to_string(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

/// Writes the seed inputs. Run by hand when starting a corpus afresh:
/// `cargo test -p converge-node --test fuzz_corpus -- --ignored`.
#[test]
#[ignore]
fn write_seed_corpus() {
    let contexts: Vec<Vec<u8>> = [
        String::new(),
        ClientContext::Dvv(dvv_context()).encode(),
        ClientContext::Dvv(CausalContext::new()).encode(),
        ClientContext::Lww(None).encode(),
        ClientContext::Lww(Some(HlcTimestamp {
            physical_us: 1_700_000_000_000_000,
            logical: 1,
        }))
        .encode(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let mut frames: Vec<Vec<u8>> = frames()
        .iter()
        .map(|f| f.to_bytes().unwrap().to_vec())
        .collect();
    frames.extend(records().iter().map(|r| r.to_bytes().unwrap()));
    for (target, seeds) in [
        ("client_context", contexts),
        ("http_request", http_requests()),
        ("peer_frame", frames),
        ("merkle_wire", merkle_streams()),
    ] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed).unwrap();
        }
    }
}

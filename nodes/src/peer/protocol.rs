//! The internode wire format: one postcard-encoded [`Frame`] per
//! length-delimited frame.
//!
//! A connection opens with `Hello` (dialler) and `Welcome` or `Refused`
//! (acceptor); after that the dialler sends `Request`s and the acceptor
//! `Response`s with matching ids. Every request and response carries the
//! sender's HLC reading so both sides advance their clocks on receipt.

use crate::clock::HlcTimestamp;
use crate::types::{ConflictMode, Key, NodeId};
use crate::version::{CausalContext, Record};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio_util::codec::LengthDelimitedCodec;

/// Largest frame accepted: a 1 MiB value JSON-free plus DVV siblings fits
/// comfortably; anything larger is a bug or garbage on the wire.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// The codec both sides use.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// Settings every member must agree on; exchanged in the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSettings {
    pub rf: usize,
    pub conflict: ConflictMode,
    pub vnodes: usize,
    /// Sorted member ids, this node included.
    pub members: Vec<NodeId>,
}

impl ClusterSettings {
    /// Why `theirs` is incompatible with `self`, if it is.
    pub fn mismatch(&self, theirs: &ClusterSettings) -> Option<String> {
        if self.rf != theirs.rf {
            return Some(format!(
                "rf differs (ours {}, theirs {})",
                self.rf, theirs.rf
            ));
        }
        if self.conflict != theirs.conflict {
            return Some(format!(
                "conflict mode differs (ours {}, theirs {})",
                self.conflict, theirs.conflict
            ));
        }
        if self.vnodes != theirs.vnodes {
            return Some(format!(
                "vnodes differs (ours {}, theirs {})",
                self.vnodes, theirs.vnodes
            ));
        }
        if self.members != theirs.members {
            let show = |m: &[NodeId]| m.iter().map(NodeId::as_str).collect::<Vec<_>>().join(",");
            return Some(format!(
                "member set differs (ours {}, theirs {})",
                show(&self.members),
                show(&theirs.members)
            ));
        }
        None
    }
}

/// Everything that crosses an internode connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Frame {
    /// Dialler → acceptor, first frame.
    Hello {
        from: NodeId,
        to: NodeId,
        settings: ClusterSettings,
    },
    /// Acceptor accepts the handshake.
    Welcome,
    /// Acceptor refuses; it closes the connection after sending this.
    Refused { reason: String },
    Request {
        id: u64,
        clock: HlcTimestamp,
        body: PeerRequest,
    },
    Response {
        id: u64,
        clock: HlcTimestamp,
        body: PeerResponse,
    },
}

impl Frame {
    /// Encodes for the codec.
    pub fn to_bytes(&self) -> Result<Bytes, postcard::Error> {
        postcard::to_stdvec(self).map(Bytes::from)
    }

    /// Decodes a received frame.
    pub fn from_bytes(bytes: &[u8]) -> Result<Frame, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// What a coordinator asks a replica.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    /// The replica's stored record of `key`.
    Read { key: Key },
    /// Merge this version into the replica's.
    Merge { key: Key, record: Record },
    /// A coordinator's write: merge it like `Merge`, but answer
    /// [`PeerResponse::Newer`] when an LWW version already stored wins, so
    /// the coordinator can push its write above it (see
    /// `Coordinator::write`). A DVV write is always answered `Merged`.
    Write { key: Key, record: Record },
    /// DVV only: mint a write on the replica (the coordinator is not a
    /// replica of `key`, so it cannot mint dots for it).
    Mint {
        key: Key,
        context: CausalContext,
        value: Option<String>,
        written_ms: u64,
    },
    /// One message of an anti-entropy session over the range replicated by
    /// `replicas` (sorted); `session` is unique per initiator.
    AntiEntropy {
        from: NodeId,
        replicas: Vec<NodeId>,
        session: u64,
        request: crate::merkle::Request,
    },
    /// The initiator `from` has finished session `session` (successfully or
    /// not): the replica drops its responder state now rather than when idle.
    AntiEntropyEnd { from: NodeId, session: u64 },
}

/// A replica's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum PeerResponse {
    Read(Option<Record>),
    Merged,
    /// Answer to `Write`: merged, but the stored version won; it carries
    /// this timestamp.
    Newer(HlcTimestamp),
    AntiEntropy(crate::merkle::Response),
    Minted {
        record: Record,
        context: CausalContext,
    },
    /// The replica could not serve the request (e.g. storage error); it
    /// does not count as an ack.
    Failed(String),
    /// Answer to `AntiEntropyEnd`.
    Ended,
}

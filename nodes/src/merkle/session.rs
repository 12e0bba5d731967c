//! What both sides of a session share: its configuration, its errors, and how
//! a digest is put on the wire.

use super::hash::Fingerprinter;
use super::store::{EntryDigest, HashSpan};
use super::wire::{Occupancy, WireDigest};

/// How a session reconciles a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Compare trees top-down; move only entries that differ.
    Merkle,
    /// Move every entry both ways (the naive baseline).
    Full,
}

/// Settings of one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Merkle or full.
    pub mode: Mode,
    /// Passes before giving up on a range that still differs (fresh
    /// fingerprints each pass). A pass after the first runs only when the
    /// closing root check differs: a 2^-16 fingerprint collision, or writes
    /// landing during the session.
    pub max_passes: u32,
    /// Seeds the per-pass salts. Any value works; vary it between sessions
    /// so a collision is never repeated.
    pub seed: u64,
}

impl SessionConfig {
    /// Merkle mode with three passes.
    pub fn merkle(seed: u64) -> SessionConfig {
        SessionConfig {
            mode: Mode::Merkle,
            max_passes: 3,
            seed,
        }
    }

    /// Full mode.
    pub fn full(seed: u64) -> SessionConfig {
        SessionConfig {
            mode: Mode::Full,
            max_passes: 1,
            seed,
        }
    }
}

/// Why a session stopped.
#[derive(Debug, thiserror::Error)]
pub enum SessionError<E: std::error::Error + 'static> {
    /// The local store failed.
    #[error("anti-entropy store error: {0}")]
    Store(#[from] E),
    /// The peer sent something this side did not expect (a bug or a version
    /// mismatch; the session is abandoned and retried next round).
    #[error("anti-entropy protocol error: {0}")]
    Protocol(&'static str),
}

/// The wire form of a digest under this pass's fingerprint map.
pub(crate) fn wire_digest(fingerprinter: &Fingerprinter, digest: &EntryDigest) -> WireDigest {
    WireDigest {
        key_tail: fingerprinter.key_tail(digest.key_hash).to_le_bytes(),
        entry_fp: fingerprinter.fingerprint(digest.entry_hash.0).to_bytes(),
        version: digest.version.clone(),
    }
}

/// Whether a kept node the responder reported `occupancy` for is answered
/// with digests (a single entry, or one key hash that cannot split) rather
/// than split. Both sides decide from the same report, so the request need
/// not say which.
pub(crate) fn answers_with_digests(span: HashSpan, occupancy: Occupancy) -> bool {
    occupancy != Occupancy::Many || span.level == 64
}

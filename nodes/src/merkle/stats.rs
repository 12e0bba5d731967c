//! [`SessionStats`]: what one anti-entropy session did, for `POST
//! /admin/anti-entropy` and the repair metrics.

use serde::Serialize;

/// Counters of one session (one range with one peer) or, summed with
/// [`SessionStats::absorb`], of a whole round. Seen from the initiator:
/// "sent" went to the peer, "received" came from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SessionStats {
    /// Ranges compared (1 per session).
    pub ranges_compared: u64,
    /// Ranges whose roots differed when the session opened.
    pub ranges_differing: u64,
    /// Ranges still differing when the session gave up (writes racing the
    /// session, or a fingerprint collision in every pass); the next round
    /// retries them.
    pub ranges_unconverged: u64,
    /// Entries pushed to the peer.
    pub keys_sent: u64,
    /// Entries received from the peer.
    pub keys_received: u64,
    /// Encoded bytes of every request sent.
    pub bytes_sent: u64,
    /// Encoded bytes of every response received.
    pub bytes_received: u64,
    /// Of `bytes_sent`, the bytes of the entries themselves.
    pub entry_bytes_sent: u64,
    /// Of `bytes_received`, the bytes of the entries themselves.
    pub entry_bytes_received: u64,
    /// Request/response exchanges.
    pub round_trips: u64,
    /// Comparison passes (a pass after the first runs only when the closing
    /// root check still differs).
    pub passes: u64,
}

impl SessionStats {
    /// Adds another session's counters into these.
    pub fn absorb(&mut self, other: &SessionStats) {
        self.ranges_compared += other.ranges_compared;
        self.ranges_differing += other.ranges_differing;
        self.ranges_unconverged += other.ranges_unconverged;
        self.keys_sent += other.keys_sent;
        self.keys_received += other.keys_received;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.entry_bytes_sent += other.entry_bytes_sent;
        self.entry_bytes_received += other.entry_bytes_received;
        self.round_trips += other.round_trips;
        self.passes += other.passes;
    }

    /// Entries moved either way.
    pub fn keys_moved(&self) -> u64 {
        self.keys_sent + self.keys_received
    }

    /// Bytes that were not entries, both ways: hashes, digests, framing.
    pub fn hash_bytes(&self) -> u64 {
        (self.bytes_sent + self.bytes_received)
            .saturating_sub(self.entry_bytes_sent + self.entry_bytes_received)
    }

    /// Entry bytes, both ways.
    pub fn entry_bytes(&self) -> u64 {
        self.entry_bytes_sent + self.entry_bytes_received
    }
}

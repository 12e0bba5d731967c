//! The opaque `context` string of the client API.
//!
//! It is URL-safe base64 of a postcard-encoded [`ClientContext`]. Under DVV it
//! is the causal context of what the client read (or wrote), which is how a
//! write says "I supersede exactly these versions". Under LWW it carries the
//! read timestamp, which the coordinator's clock observes before stamping the
//! write, so the write is ordered after what it read. An empty string is the
//! empty context.
//!
//! It comes from clients, so it is untrusted: a DVV context must be
//! canonical and its counters bounded ([`CausalContext::check`]), or minting
//! on top of it could overflow inside the storage writer.

use super::dvv::{CausalContext, ContextProblem};
use crate::clock::HlcTimestamp;
use crate::types::ConflictMode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// A decoded client context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientContext {
    /// The timestamp of the version read, if any.
    Lww(Option<HlcTimestamp>),
    /// Every dot the client has seen.
    Dvv(CausalContext),
}

/// Why a context string was refused (a 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContextError {
    #[error("context is not valid base64")]
    NotBase64,
    #[error("context does not decode")]
    Malformed,
    #[error("context was made by a {0} cluster but this cluster runs {1}")]
    WrongMode(ConflictMode, ConflictMode),
    #[error("{0}")]
    Hostile(#[from] ContextProblem),
}

impl ClientContext {
    /// The context of "nothing read" in `mode`.
    pub fn empty(mode: ConflictMode) -> Self {
        match mode {
            ConflictMode::Lww => ClientContext::Lww(None),
            ConflictMode::Dvv => ClientContext::Dvv(CausalContext::new()),
        }
    }

    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        // Serialising plain data to a Vec cannot fail; fall back to the empty
        // string (the empty context) rather than panic if it ever did.
        postcard::to_stdvec(self)
            .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
            .unwrap_or_default()
    }

    /// Parses a client-supplied context for a cluster running `mode`.
    pub fn decode(text: &str, mode: ConflictMode) -> Result<Self, ContextError> {
        if text.is_empty() {
            return Ok(Self::empty(mode));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| ContextError::NotBase64)?;
        let context: ClientContext =
            postcard::from_bytes(&bytes).map_err(|_| ContextError::Malformed)?;
        let found = match context {
            ClientContext::Lww(_) => ConflictMode::Lww,
            ClientContext::Dvv(_) => ConflictMode::Dvv,
        };
        if found != mode {
            return Err(ContextError::WrongMode(found, mode));
        }
        if let ClientContext::Dvv(causal) = &context {
            causal.check()?;
        }
        Ok(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeId;
    use crate::version::dvv::Dot;

    #[test]
    fn round_trips() {
        let mut cc = CausalContext::new();
        cc.insert(Dot {
            node: NodeId::new("n1"),
            counter: 1,
        });
        let ctx = ClientContext::Dvv(cc);
        assert_eq!(
            ClientContext::decode(&ctx.encode(), ConflictMode::Dvv),
            Ok(ctx)
        );
    }

    #[test]
    fn refuses_garbage_and_other_modes() {
        assert_eq!(
            ClientContext::decode("!!!", ConflictMode::Lww),
            Err(ContextError::NotBase64)
        );
        assert_eq!(
            ClientContext::decode("Ag", ConflictMode::Lww),
            Err(ContextError::Malformed)
        );
        let mut huge = CausalContext::new();
        huge.insert(Dot {
            node: NodeId::new("n1"),
            counter: u64::MAX,
        });
        let huge = ClientContext::Dvv(huge).encode();
        assert!(matches!(
            ClientContext::decode(&huge, ConflictMode::Dvv),
            Err(ContextError::Hostile(
                ContextProblem::CounterTooLarge { .. }
            ))
        ));
        let lww = ClientContext::empty(ConflictMode::Lww).encode();
        assert!(matches!(
            ClientContext::decode(&lww, ConflictMode::Dvv),
            Err(ContextError::WrongMode(..))
        ));
    }
}

//! [`run_local`]: one session between two stores in one process.
//!
//! Every message is encoded with postcard and decoded on the other side, as
//! the node's RPC would, so tests and the benchmark exercise the real wire
//! format and the byte counters count real encodings.

use super::initiator::Initiator;
use super::responder::Responder;
use super::session::{SessionConfig, SessionError};
use super::stats::SessionStats;
use super::store::RangeStore;
use super::wire::{Request, Response};

/// Why an in-process session failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalSessionError {
    /// The initiator's side failed.
    #[error("initiator: {0}")]
    Initiator(String),
    /// The responder's side failed.
    #[error("responder: {0}")]
    Responder(String),
    /// A message did not survive encoding.
    #[error("wire encoding: {0}")]
    Wire(#[from] postcard::Error),
}

fn describe<E: std::error::Error + 'static>(e: SessionError<E>) -> String {
    e.to_string()
}

/// Runs one session of `initiator` against `responder` to the end.
pub fn run_local<A: RangeStore, B: RangeStore>(
    config: SessionConfig,
    initiator: &mut A,
    responder: &mut B,
) -> Result<SessionStats, LocalSessionError> {
    let mut session = Initiator::new(config);
    let mut peer = Responder::new();
    let mut request = session
        .start(initiator)
        .map_err(|e| LocalSessionError::Initiator(describe(e)))?;
    loop {
        let decoded: Request = postcard::from_bytes(&postcard::to_stdvec(&request)?)?;
        let response = peer
            .handle(responder, decoded)
            .map_err(|e| LocalSessionError::Responder(describe(e)))?;
        let response: Response = postcard::from_bytes(&postcard::to_stdvec(&response)?)?;
        match session
            .on_response(initiator, response)
            .map_err(|e| LocalSessionError::Initiator(describe(e)))?
        {
            Some(next) => request = next,
            None => return Ok(*session.stats()),
        }
    }
}

//! The replica role: what this node does with a request for a key it stores,
//! whether the request came from a peer or from itself as coordinator.
//!
//! Keeping both paths on one type means the local replica is treated exactly
//! like a remote one (it counts as one ack, it can fail the same way).

use crate::anti_entropy::AntiEntropy;
use crate::clock::NodeClock;
use crate::peer::{PeerRequest, PeerResponse};
use crate::storage::Store;
use crate::types::NodeId;
use crate::version::Record;
use std::sync::Arc;

/// This node as a replica.
#[derive(Clone)]
pub struct LocalReplica {
    pub id: NodeId,
    pub store: Store,
    pub clock: Arc<NodeClock>,
    /// Answers the responder side of anti-entropy sessions.
    pub anti_entropy: Arc<AntiEntropy>,
}

impl LocalReplica {
    /// Serves one request against local storage.
    pub async fn handle(&self, request: PeerRequest) -> PeerResponse {
        match request {
            PeerRequest::Read { key } => match self.store.read(&key) {
                Ok(record) => PeerResponse::Read(record),
                Err(e) => self.failed("read", e),
            },
            PeerRequest::Merge { key, record } => match self.store.merge(key, record).await {
                Ok(_) => PeerResponse::Merged,
                Err(e) => self.failed("merge", e),
            },
            PeerRequest::Write { key, record } => {
                let sent = record.clone();
                match self.store.merge(key, record).await {
                    // Only an LWW version can lose a merge whole; a DVV
                    // write's siblings join whatever is stored.
                    Ok(Record::Lww(stored)) if !matches!(&sent, Record::Lww(s) if *s == stored) => {
                        PeerResponse::Newer(stored.timestamp)
                    }
                    Ok(_) => PeerResponse::Merged,
                    Err(e) => self.failed("merge", e),
                }
            }
            PeerRequest::AntiEntropy {
                from,
                replicas,
                session,
                request,
            } => {
                // The merkle state machines are synchronous and may wait on
                // storage commits: run them off the async workers.
                let ae = self.anti_entropy.clone();
                let answer = tokio::task::spawn_blocking(move || {
                    ae.respond(from, replicas, session, request)
                })
                .await;
                match answer {
                    Ok(Ok(response)) => PeerResponse::AntiEntropy(response),
                    Ok(Err(why)) => PeerResponse::Failed(why),
                    Err(e) => PeerResponse::Failed(e.to_string()),
                }
            }
            PeerRequest::AntiEntropyEnd { from, session } => {
                self.anti_entropy.end_session(&from, session);
                PeerResponse::Ended
            }
            PeerRequest::Mint {
                key,
                context,
                value,
                written_ms,
            } => match self.store.mint(key, context, value, written_ms).await {
                Ok((record, context)) => PeerResponse::Minted { record, context },
                Err(e) => self.failed("mint", e),
            },
        }
    }

    fn failed(&self, what: &str, e: crate::storage::StorageError) -> PeerResponse {
        tracing::error!(error = %e, "replica {what} failed");
        PeerResponse::Failed(e.to_string())
    }
}

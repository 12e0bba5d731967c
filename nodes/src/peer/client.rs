//! The dialling side of internode traffic: one multiplexed connection per
//! peer, redialled after failure.
//!
//! Any number of requests share the connection; a reader task routes
//! responses to waiters by request id. A request that misses its deadline
//! kills the connection: with the harness's partitions a link can hang
//! without ever erroring, and once a response is late the byte stream can no
//! longer be trusted to resume cleanly. Dialling backs off (up to
//! [`MAX_BACKOFF`]) so a partitioned peer costs a fast local failure rather
//! than a fresh hung socket per request.

use super::outbox::write_batched;
use super::protocol::{ClusterSettings, Frame, PeerRequest, PeerResponse, codec};
use crate::clock::{ClockSource, NodeClock};
use crate::types::NodeId;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout_at};
use tokio_util::codec::Framed;

/// First redial delay after a failed dial.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest redial delay.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Why a peer request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("peer {0} did not answer in time")]
    Timeout(NodeId),
    #[error("peer {0} is unreachable: {1}")]
    Unreachable(NodeId, String),
    #[error("connection to peer {0} was lost")]
    ConnectionLost(NodeId),
    #[error("peer {0} refused the handshake: {1}")]
    Refused(NodeId, String),
}

/// Waiters for responses, by request id.
type Pending = Mutex<HashMap<u64, oneshot::Sender<PeerResponse>>>;

/// Request frames queued for one connection's writer. A caller waits (up to
/// its deadline) for room rather than growing the queue without bound.
const MAX_QUEUED: usize = 1024;

/// One live connection.
struct Connection {
    outgoing: mpsc::Sender<Bytes>,
    pending: Arc<Pending>,
    alive: Arc<AtomicBool>,
    tasks: [AbortHandle; 2],
}

impl Connection {
    fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn kill(&self) {
        self.alive.store(false, Ordering::Release);
        for task in &self.tasks {
            task.abort();
        }
        lock(&self.pending).clear();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Dial state, guarded by an async mutex so concurrent requests share one
/// dial attempt instead of racing N of them.
struct DialState {
    connection: Option<Arc<Connection>>,
    not_before: Instant,
    backoff: Duration,
}

/// A client for one peer.
pub struct PeerClient {
    me: NodeId,
    peer: NodeId,
    addr: String,
    settings: ClusterSettings,
    clock: Arc<NodeClock>,
    dial_timeout: Duration,
    next_id: AtomicU64,
    state: tokio::sync::Mutex<DialState>,
}

impl PeerClient {
    /// A client that dials `addr` to reach `peer`.
    pub fn new(
        me: NodeId,
        peer: NodeId,
        addr: String,
        settings: ClusterSettings,
        clock: Arc<NodeClock>,
        dial_timeout: Duration,
    ) -> Self {
        PeerClient {
            me,
            peer,
            addr,
            settings,
            clock,
            dial_timeout,
            next_id: AtomicU64::new(1),
            state: tokio::sync::Mutex::new(DialState {
                connection: None,
                not_before: Instant::now(),
                backoff: MIN_BACKOFF,
            }),
        }
    }

    /// The peer this client reaches.
    pub fn peer(&self) -> &NodeId {
        &self.peer
    }

    /// Sends `request` and waits for its response until `deadline`.
    pub async fn call(
        &self,
        request: PeerRequest,
        deadline: Instant,
    ) -> Result<PeerResponse, PeerError> {
        let connection = self.connection(deadline).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = Frame::Request {
            id,
            clock: self.clock.now(),
            body: request,
        };
        let bytes = frame
            .to_bytes()
            .map_err(|e| PeerError::Unreachable(self.peer.clone(), format!("encode: {e}")))?;
        let (tx, rx) = oneshot::channel();
        lock(&connection.pending).insert(id, tx);
        match timeout_at(deadline, connection.outgoing.send(bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                connection.kill();
                return Err(PeerError::ConnectionLost(self.peer.clone()));
            }
            Err(_) => {
                // Never sent: the queue stayed full until the deadline.
                lock(&connection.pending).remove(&id);
                return Err(PeerError::Timeout(self.peer.clone()));
            }
        }
        match timeout_at(deadline, rx).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) => Err(PeerError::ConnectionLost(self.peer.clone())),
            Err(_) => {
                lock(&connection.pending).remove(&id);
                if connection.is_alive() {
                    tracing::warn!(peer = %self.peer, "request timed out; dropping the connection");
                    connection.kill();
                }
                Err(PeerError::Timeout(self.peer.clone()))
            }
        }
    }

    /// The live connection, dialling one if needed (and allowed by backoff).
    async fn connection(&self, deadline: Instant) -> Result<Arc<Connection>, PeerError> {
        let mut state = timeout_at(deadline, self.state.lock())
            .await
            .map_err(|_| PeerError::Timeout(self.peer.clone()))?;
        if let Some(c) = &state.connection
            && c.is_alive()
        {
            return Ok(c.clone());
        }
        state.connection = None;
        let now = Instant::now();
        if now < state.not_before {
            return Err(PeerError::Unreachable(
                self.peer.clone(),
                "backing off after a failed dial".into(),
            ));
        }
        let dial_deadline = deadline.min(now + self.dial_timeout);
        match timeout_at(dial_deadline, self.dial()).await {
            Ok(Ok(connection)) => {
                let connection = Arc::new(connection);
                state.connection = Some(connection.clone());
                state.backoff = MIN_BACKOFF;
                tracing::info!(peer = %self.peer, addr = %self.addr, "connected to peer");
                Ok(connection)
            }
            Ok(Err(e)) => {
                state.not_before = Instant::now() + state.backoff;
                state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
                Err(e)
            }
            Err(_) => {
                state.not_before = Instant::now() + state.backoff;
                state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
                Err(PeerError::Timeout(self.peer.clone()))
            }
        }
    }

    /// Connects and completes the handshake.
    async fn dial(&self) -> Result<Connection, PeerError> {
        let unreachable = |e: String| PeerError::Unreachable(self.peer.clone(), e);
        let stream = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| unreachable(e.to_string()))?;
        let mut framed = Framed::new(stream, codec());
        let hello = Frame::Hello {
            from: self.me.clone(),
            to: self.peer.clone(),
            settings: self.settings.clone(),
        };
        let bytes = hello.to_bytes().map_err(|e| unreachable(e.to_string()))?;
        framed
            .send(bytes)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let reply = framed
            .next()
            .await
            .ok_or_else(|| unreachable("closed during handshake".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        match Frame::from_bytes(&reply) {
            Ok(Frame::Welcome) => {}
            Ok(Frame::Refused { reason }) => {
                tracing::error!(peer = %self.peer, %reason, "peer refused our handshake");
                return Err(PeerError::Refused(self.peer.clone(), reason));
            }
            _ => return Err(unreachable("bad handshake reply".into())),
        }
        let (sink, mut stream) = framed.split();
        let pending: Arc<Pending> = Arc::new(Mutex::new(HashMap::new()));
        let alive = Arc::new(AtomicBool::new(true));
        let (outgoing, queue) = mpsc::channel::<Bytes>(MAX_QUEUED);

        let writer_alive = alive.clone();
        let writer = tokio::spawn(async move {
            write_batched(sink, queue).await;
            writer_alive.store(false, Ordering::Release);
        });

        let reader_alive = alive.clone();
        let reader_pending = pending.clone();
        let clock = self.clock.clone();
        let peer = self.peer.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(bytes)) = stream.next().await {
                match Frame::from_bytes(&bytes) {
                    Ok(Frame::Response {
                        id,
                        clock: seen,
                        body,
                    }) => {
                        // An answer stamped too far in the future is not
                        // taken (no ack, see crate::clock); it was counted.
                        let body = match clock.observe_remote(seen, ClockSource::Peer) {
                            Ok(()) => body,
                            Err(ahead) => PeerResponse::Failed(format!("refused: {ahead}")),
                        };
                        if let Some(waiter) = lock(&reader_pending).remove(&id) {
                            let _ = waiter.send(body);
                        }
                    }
                    _ => {
                        tracing::warn!(%peer, "unexpected frame from peer; dropping the connection");
                        break;
                    }
                }
            }
            reader_alive.store(false, Ordering::Release);
            lock(&reader_pending).clear();
        });

        Ok(Connection {
            outgoing,
            pending,
            alive,
            tasks: [writer.abort_handle(), reader.abort_handle()],
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Only plain inserts/removes happen under this lock; a panic elsewhere
    // cannot leave the map half-updated.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

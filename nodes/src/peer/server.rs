//! The accepting side of internode traffic: checks each dialler's handshake
//! and serves its requests concurrently through the local replica.
//!
//! A connection idle for [`IDLE_TIMEOUT`] is closed: a partitioned dialler
//! abandons its hung connections and redials, and without this the
//! abandoned server halves (which the harness's proxy keeps open) would pile
//! up. A healthy dialler simply redials after an idle close.
//!
//! Memory per connection is bounded: at most [`MAX_IN_FLIGHT`] requests are
//! served at once (further frames stay unread in the socket, which pushes
//! back on the dialler through TCP), and the response queue holds at most as
//! many frames, so a slow reader of responses cannot grow it either.
//!
//! A request whose HLC reading is more than `cluster.max_clock_offset` ahead
//! of this node's clock is not served: it is answered `Failed` (no ack) and
//! counted, see [`crate::clock`].

use super::outbox::write_batched;
use super::protocol::{ClusterSettings, Frame, PeerResponse, codec};
use crate::clock::ClockSource;
use crate::replica::LocalReplica;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tokio_util::codec::Framed;

/// Requests one connection may have in service at once. A coordinator's
/// fan-out sends one request per client op, so this is far above what a
/// healthy peer needs, and small enough that a flood costs little memory.
pub const MAX_IN_FLIGHT: usize = 1024;

/// How long a connection may stay silent before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a dialler has to send its `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts internode connections until the task is dropped/aborted.
pub async fn serve(listener: TcpListener, replica: LocalReplica, settings: Arc<ClusterSettings>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let replica = replica.clone();
                let settings = settings.clone();
                tokio::spawn(async move {
                    if let Err(reason) = serve_connection(stream, replica, settings).await {
                        tracing::debug!(%remote, %reason, "peer connection closed");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a peer connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    replica: LocalReplica,
    settings: Arc<ClusterSettings>,
) -> Result<(), String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut framed = Framed::new(stream, codec());
    let first = timeout(HANDSHAKE_TIMEOUT, framed.next())
        .await
        .map_err(|_| "no handshake in time".to_string())?
        .ok_or("closed before handshake")?
        .map_err(|e| e.to_string())?;
    let refusal = match Frame::from_bytes(&first) {
        Ok(Frame::Hello {
            from,
            to,
            settings: theirs,
        }) => {
            if to != replica.id {
                Some(format!(
                    "peer {from} dialled us as {to}, but we are {}",
                    replica.id
                ))
            } else if !settings.members.contains(&from) {
                Some(format!("{from} is not a cluster member"))
            } else {
                settings
                    .mismatch(&theirs)
                    .map(|why| format!("refusing peer {from}: {why}"))
            }
        }
        _ => Some("first frame was not a handshake".to_string()),
    };
    if let Some(reason) = refusal {
        tracing::error!(%reason, "refused internode connection");
        let frame = Frame::Refused {
            reason: reason.clone(),
        };
        if let Ok(bytes) = frame.to_bytes() {
            let _ = framed.send(bytes).await;
        }
        return Err(reason);
    }
    framed
        .send(Frame::Welcome.to_bytes().map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;

    let (sink, mut stream) = framed.split();
    let (responses, queue) = mpsc::channel::<Bytes>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_batched(sink, queue));
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let result = loop {
        let next = match timeout(IDLE_TIMEOUT, stream.next()).await {
            Err(_) => break Err("idle".to_string()),
            Ok(None) => break Ok(()),
            Ok(Some(Err(e))) => break Err(e.to_string()),
            Ok(Some(Ok(bytes))) => bytes,
        };
        let Ok(Frame::Request { id, clock, body }) = Frame::from_bytes(&next) else {
            break Err("unexpected frame".to_string());
        };
        // Held until the response is queued; waiting for it here stops
        // reading the socket while MAX_IN_FLIGHT requests are in service. A
        // peer that stops reading responses (a hung link) stalls them all:
        // give up on the connection after the idle timeout, as for silence.
        let permit = match timeout(IDLE_TIMEOUT, in_flight.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => break Err("request limiter closed".to_string()),
            Err(_) => break Err("responses stalled".to_string()),
        };
        let clock_ok = replica.clock.observe_remote(clock, ClockSource::Peer);
        let replica = replica.clone();
        let responses = responses.clone();
        tokio::spawn(async move {
            let body = match clock_ok {
                Ok(()) => replica.handle(body).await,
                Err(ahead) => PeerResponse::Failed(format!("refused: {ahead}")),
            };
            let frame = Frame::Response {
                id,
                clock: replica.clock.peek(),
                body,
            };
            match frame.to_bytes() {
                // A closed queue means the connection is gone; nobody waits.
                Ok(bytes) => {
                    let _ = responses.send(bytes).await;
                }
                Err(e) => tracing::error!(error = %e, "encoding a peer response failed"),
            }
            drop(permit);
        });
    };
    writer.abort();
    result
}

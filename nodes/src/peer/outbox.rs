//! Batched frame writing shared by both ends of a peer connection.
//!
//! Under load many tasks queue frames at once; writing each with its own
//! syscall made loopback TCP sends the node's largest CPU cost. The writer
//! drains the queue, yields once so tasks that are about to enqueue can do
//! so, drains again, and only then flushes: one `writev` for many frames.
//! The queue is bounded by its owner (each end sizes it to the requests it
//! allows in flight), so a stalled socket cannot grow it without limit.

use bytes::Bytes;
use futures_util::{Sink, SinkExt};
use tokio::sync::mpsc;

/// Writes every queued frame to `sink` until the queue closes or a write
/// fails. Returns when the connection should be considered dead.
pub(crate) async fn write_batched<S>(mut sink: S, mut queue: mpsc::Receiver<Bytes>)
where
    S: Sink<Bytes> + Unpin,
{
    while let Some(first) = queue.recv().await {
        if sink.feed(first).await.is_err() {
            return;
        }
        for round in 0..2 {
            while let Ok(more) = queue.try_recv() {
                if sink.feed(more).await.is_err() {
                    return;
                }
            }
            if round == 0 {
                tokio::task::yield_now().await;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

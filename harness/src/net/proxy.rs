//! One directed link's TCP proxy: node `a` dials `b` through it.
//!
//! A cut link behaves like a dropped-packet partition that lasts longer
//! than TCP's patience. While cut, nothing is forwarded and nothing is reset:
//! bytes sent into the link and new connections simply hang, so the node
//! sees timeouts, never errors. When the link heals, every connection that
//! tried to carry bytes during the cut (and every connection opened during
//! it) is closed and those bytes are dropped, as when TCP gives up
//! retransmitting: messages sent into a partition are lost, and the nodes
//! must reconnect and repair. Connections that stayed idle through the cut
//! carry on. Optional latency delays every chunk by a fixed amount from the
//! moment it was read.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What a link does right now. Published through a `watch` channel so every
/// pump sees a change at once and a cut pump can await the heal instead of
/// polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkState {
    /// Forwarding stopped.
    pub cut: bool,
    /// Added one-way delay per chunk.
    pub latency: Duration,
}

/// A running proxy for one directed link. Dropping it stops accepting and
/// tears down its connections (their tasks see the closed watch channel).
pub struct LinkProxy {
    local: SocketAddr,
    state: watch::Sender<LinkState>,
    accept_task: tokio::task::JoinHandle<()>,
}

/// Chunks in flight per direction before the reader waits: enough to keep a
/// delayed link busy, small enough that a cut link applies backpressure.
const CHANNEL_CHUNKS: usize = 64;
const CHUNK_BYTES: usize = 16 * 1024;

impl LinkProxy {
    /// Binds an ephemeral port on 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<LinkProxy> {
        LinkProxy::start_on(IpAddr::from([127, 0, 0, 1]), upstream).await
    }

    /// Binds an ephemeral port on `bind` (an address the dialling node can
    /// reach, e.g. a Docker network's gateway) and forwards to `upstream`.
    pub async fn start_on(bind: IpAddr, upstream: SocketAddr) -> std::io::Result<LinkProxy> {
        let listener = TcpListener::bind((bind, 0)).await?;
        let local = listener.local_addr()?;
        let (state, _) = watch::channel(LinkState::default());
        let states = state.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    // Out of descriptors or similar: back off, do not spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = inbound.set_nodelay(true);
                tokio::spawn(serve_connection(inbound, upstream, states.subscribe()));
            }
        });
        Ok(LinkProxy {
            local,
            state,
            accept_task,
        })
    }

    /// The address the dialling node is given for its peer.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn set(&self, state: LinkState) {
        self.state.send_replace(state);
    }

    pub fn state(&self) -> LinkState {
        *self.state.borrow()
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Waits until the link is open. `false` means the proxy is gone.
async fn wait_open(state: &mut watch::Receiver<LinkState>) -> bool {
    state.wait_for(|s| !s.cut).await.is_ok()
}

async fn serve_connection(
    inbound: TcpStream,
    upstream: SocketAddr,
    mut state: watch::Receiver<LinkState>,
) {
    // A connection opened into a partition never reaches the peer: it hangs
    // while the link is cut, and is closed when it heals (its SYN "timed
    // out"); the dialler reconnects.
    if state.borrow().cut {
        let _ = wait_open(&mut state).await;
        return;
    }
    let Ok(outbound) = TcpStream::connect(upstream).await else {
        return; // the peer is down; closing tells the dialler so
    };
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let forward = pump(in_read, out_write, state.clone());
    let backward = pump(out_read, in_write, state);
    tokio::pin!(forward, backward);
    // A lost message ends the whole connection (both directions, both
    // sockets dropped); a clean EOF lets the other direction finish.
    tokio::select! {
        end = &mut forward => if end == PumpEnd::Eof { backward.await; },
        end = &mut backward => if end == PumpEnd::Eof { forward.await; },
    }
}

/// Why one direction stopped.
#[derive(Debug, PartialEq, Eq)]
enum PumpEnd {
    /// The sender closed its side (or the socket failed).
    Eof,
    /// Bytes were lost in a partition: the connection must be torn down.
    Lost,
}

/// Aborts the reader task when the pump ends or is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Copies one direction: a reader task timestamps chunks, this task delays
/// and forwards them while the link is open. Reader and writer are separate
/// so latency delays each chunk from when it arrived, not from when the
/// previous one left.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    state: watch::Receiver<LinkState>,
) -> PumpEnd {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(CHANNEL_CHUNKS);
    let _reader = AbortOnDrop(tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    }));
    let mut state = state;
    while let Some((read_at, chunk)) = rx.recv().await {
        let latency = state.borrow().latency;
        if !latency.is_zero() {
            tokio::time::sleep_until(read_at + latency).await;
        }
        if state.borrow().cut {
            // This chunk went into the partition: hang until the heal, then
            // drop the connection with the chunk.
            let _ = wait_open(&mut state).await;
            return PumpEnd::Lost;
        }
        if to.write_all(&chunk).await.is_err() {
            return PumpEnd::Eof;
        }
    }
    let _ = to.shutdown().await;
    PumpEnd::Eof
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    /// A toy echo server: the upstream every proxy test forwards to.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
        s.write_all(msg).await.unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).await.unwrap();
        got
    }

    #[tokio::test]
    async fn open_link_forwards_both_ways() {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut s, b"hello").await, b"hello");
    }

    const CUT: LinkState = LinkState {
        cut: true,
        latency: Duration::ZERO,
    };

    /// Reads until EOF or error; the bytes that arrived before it.
    async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
        let mut got = Vec::new();
        let _ = timeout(Duration::from_secs(5), s.read_to_end(&mut got))
            .await
            .expect("connection was not closed");
        got
    }

    #[tokio::test]
    async fn bytes_sent_into_a_cut_link_hang_then_are_lost_and_the_connection_closes_at_heal() {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut s, b"before").await, b"before");
        proxy.set(CUT);
        s.write_all(b"during").await.unwrap();
        let mut buf = [0u8; 6];
        // No bytes and no EOF/reset while cut: the read just waits.
        assert!(
            timeout(Duration::from_millis(300), s.read(&mut buf))
                .await
                .is_err()
        );
        proxy.set(LinkState::default());
        assert!(
            read_to_close(&mut s).await.is_empty(),
            "the message must be lost"
        );
        // The dialler reconnects and the link works again.
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut s, b"after").await, b"after");
    }

    #[tokio::test]
    async fn connections_opened_into_a_cut_link_hang_then_close_at_heal() {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        proxy.set(CUT);
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        s.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 1];
        assert!(
            timeout(Duration::from_millis(300), s.read(&mut buf))
                .await
                .is_err()
        );
        proxy.set(LinkState::default());
        assert!(read_to_close(&mut s).await.is_empty());
    }

    #[tokio::test]
    async fn idle_connections_survive_a_cut_and_heal() {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        assert_eq!(round_trip(&mut s, b"1").await, b"1");
        proxy.set(CUT);
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy.set(LinkState::default());
        assert_eq!(round_trip(&mut s, b"2").await, b"2");
    }

    #[tokio::test]
    async fn latency_delays_each_direction() {
        let proxy = LinkProxy::start(echo_server().await).await.unwrap();
        proxy.set(LinkState {
            cut: false,
            latency: Duration::from_millis(100),
        });
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        let started = std::time::Instant::now();
        assert_eq!(round_trip(&mut s, b"slow").await, b"slow");
        // There and back: at least twice the one-way delay.
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_dead_upstream_closes_the_connection() {
        let dead = {
            let l = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            l.local_addr().unwrap()
        };
        let proxy = LinkProxy::start(dead).await.unwrap();
        let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
        let mut buf = [0u8; 1];
        let n = timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(n, Ok(0) | Err(_)));
    }
}

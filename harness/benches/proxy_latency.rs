//! Added latency of the link proxy (docs/BENCHMARKS.md).
//!
//! Round trips of a small message to a local echo server, directly and
//! through one [`LinkProxy`] (open, no added latency), on one connection
//! each, sequentially. The difference of the medians is what a proxied
//! internode hop costs. Target: ≤ 100 µs at p50 (what Toxiproxy claims).
//!
//!     cargo bench -p converge --bench proxy_latency
//!
//! `harness = false`: a plain binary that prints percentiles, so the figure
//! is the same number the doc records, with no statistics framework between.

use converge::net::proxy::LinkProxy;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WARMUP: usize = 2_000;
const ROUNDS: usize = 20_000;
const MESSAGE: &[u8] = &[7u8; 128];

async fn echo_server() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok(addr)
}

/// Sorted round-trip times over one connection to `addr`.
async fn round_trips(addr: SocketAddr) -> std::io::Result<Vec<Duration>> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; MESSAGE.len()];
    let mut times = Vec::with_capacity(ROUNDS);
    for i in 0..WARMUP + ROUNDS {
        let t = Instant::now();
        s.write_all(MESSAGE).await?;
        s.read_exact(&mut buf).await?;
        if i >= WARMUP {
            times.push(t.elapsed());
        }
    }
    times.sort();
    Ok(times)
}

fn pct(times: &[Duration], p: f64) -> Duration {
    times[((times.len() - 1) as f64 * p).round() as usize]
}

fn main() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let echo = echo_server().await?;
        let proxy = LinkProxy::start(echo).await?;
        let direct = round_trips(echo).await?;
        let proxied = round_trips(proxy.local_addr()).await?;
        println!(
            "{ROUNDS} round trips of {} bytes, one connection each",
            MESSAGE.len()
        );
        println!("{:>8} {:>10} {:>10} {:>10}", "", "p50", "p90", "p99");
        for (name, t) in [("direct", &direct), ("proxied", &proxied)] {
            println!(
                "{name:>8} {:>8.1}µs {:>8.1}µs {:>8.1}µs",
                pct(t, 0.5).as_secs_f64() * 1e6,
                pct(t, 0.9).as_secs_f64() * 1e6,
                pct(t, 0.99).as_secs_f64() * 1e6
            );
        }
        let added = pct(&proxied, 0.5).as_secs_f64() - pct(&direct, 0.5).as_secs_f64();
        // A round trip crosses the proxy twice (there and back).
        println!(
            "added p50 per round trip: {:.1}µs (per one-way hop: {:.1}µs)",
            added * 1e6,
            added * 1e6 / 2.0
        );
        Ok(())
    })
}

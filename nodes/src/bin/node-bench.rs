//! `node-bench`: throughput and latency of a local 3-node cluster.
//!
//! Starts three real `converge-node` processes (the binary next to this one;
//! build both in release), RF=3, R=W=2, `fsync = "interval"`, then drives
//! them with N concurrent keep-alive HTTP clients doing 50/50 GET/PUT over
//! uniformly random keys, and prints throughput and latency percentiles.
//! docs/BENCHMARKS.md records its output.
//!
//!     cargo build --release -p converge-node
//!     target/release/node-bench --clients 64 --keys 100000 --seconds 20
//!
//! The client is a minimal HTTP/1.1 writer/reader on raw sockets, running
//! on one thread, so that the load generator takes as little of the shared
//! CPU as possible from the nodes it measures.

use clap::Parser;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(about = "Benchmark a local 3-node converge-node cluster (50/50 GET/PUT)")]
struct Args {
    /// Concurrent clients (each with one keep-alive connection).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Distinct keys, chosen uniformly.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Measured duration.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Unmeasured warm-up before it.
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// storage.fsync for the nodes.
    #[arg(long, default_value = "interval")]
    fsync: String,
    /// anti_entropy.mode for the nodes (trees are maintained on every write
    /// unless "off"; rounds are hourly, so none runs during a measurement).
    #[arg(long, default_value = "merkle")]
    anti_entropy: String,
    /// Tokio worker threads per node (TOKIO_WORKER_THREADS). Three nodes and
    /// the load generator share the machine, so one each avoids oversubscribing
    /// two cores; 0 keeps tokio's default (one per core).
    #[arg(long, default_value_t = 1)]
    node_threads: usize,
    /// The node binary; defaults to converge-node next to this binary.
    #[arg(long)]
    node_bin: Option<PathBuf>,
}

/// The three node processes; killed on drop.
struct LocalCluster {
    children: Vec<Child>,
    http_ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start_cluster(bin: &PathBuf, args: &Args) -> anyhow::Result<LocalCluster> {
    let (fsync, node_threads) = (&args.fsync, args.node_threads);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[cluster]\nrf = 3\nr = 2\nw = 2\n[storage]\nfsync = \"{fsync}\"\nfsync_interval_ms = 100\n\
             [anti_entropy]\nmode = \"{}\"\ninterval = \"1h\"\n",
            args.anti_entropy
        ),
    )?;
    let http: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_, _>>()?;
    let peer: Vec<u16> = (0..3).map(|_| free_port()).collect::<Result<_, _>>()?;
    let mut children = Vec::new();
    for i in 0..3 {
        let log = std::fs::File::create(dir.path().join(format!("n{}.log", i + 1)))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--id")
            .arg(format!("n{}", i + 1))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", http[i]))
            .arg("--peer-listen")
            .arg(format!("127.0.0.1:{}", peer[i]))
            .arg("--data-dir")
            .arg(dir.path().join(format!("n{}", i + 1)))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        if node_threads > 0 {
            cmd.env("TOKIO_WORKER_THREADS", node_threads.to_string());
        }
        for j in (0..3).filter(|&j| j != i) {
            cmd.arg("--peer")
                .arg(format!("n{}=127.0.0.1:{}", j + 1, peer[j]));
        }
        children.push(cmd.spawn()?);
    }
    Ok(LocalCluster {
        children,
        http_ports: http,
        _dir: dir,
    })
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    stream: BufReader<TcpStream>,
    line: String,
    body: Vec<u8>,
}

impl Connection {
    async fn open(port: u16) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream: BufReader::new(stream),
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// Sends one request and reads the whole response; returns the status.
    async fn request(&mut self, head: &str, body: &[u8]) -> std::io::Result<u16> {
        let mut out = Vec::with_capacity(head.len() + body.len() + 64);
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        self.stream.get_mut().write_all(&out).await?;

        self.line.clear();
        self.stream.read_line(&mut self.line).await?;
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bad status line {:?}", self.line),
                )
            })?;
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

/// xorshift64*: enough randomness for key choice, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[derive(Default)]
struct ClientResult {
    /// Latency in µs of each measured op.
    latencies_us: Vec<u32>,
    gets: u64,
    puts: u64,
    not_found: u64,
    errors: u64,
}

async fn run_client(
    index: usize,
    port: u16,
    keys: u64,
    value: String,
    measure_from: Instant,
    stop_at: Instant,
) -> std::io::Result<ClientResult> {
    let mut conn = Connection::open(port).await?;
    let mut rng =
        Rng(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    let put_body = format!("{{\"value\":\"{value}\"}}");
    let mut result = ClientResult::default();
    loop {
        let started = Instant::now();
        if started >= stop_at {
            return Ok(result);
        }
        let key = rng.next() % keys;
        let is_put = rng.next() & 1 == 0;
        let status = if is_put {
            conn.request(
                &format!(
                    "PUT /kv/k{key} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                ),
                put_body.as_bytes(),
            )
            .await?
        } else {
            conn.request(&format!("GET /kv/k{key} HTTP/1.1\r\nHost: bench\r\n"), b"")
                .await?
        };
        if started < measure_from {
            continue;
        }
        result
            .latencies_us
            .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if is_put {
            result.puts += 1;
        } else {
            result.gets += 1;
        }
        match status {
            200 => {}
            404 if !is_put => result.not_found += 1,
            _ => result.errors += 1,
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

async fn wait_healthy(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut c) = Connection::open(port).await
            && let Ok(200) = c
                .request("GET /health HTTP/1.1\r\nHost: bench\r\n", b"")
                .await
        {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "node on port {port} never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let bin = match args.node_bin.clone() {
        Some(b) => b,
        None => std::env::current_exe()?.with_file_name("converge-node"),
    };
    anyhow::ensure!(
        bin.exists(),
        "node binary {} not found; build it first: cargo build --release -p converge-node",
        bin.display()
    );
    let cluster = start_cluster(&bin, &args)?;
    for &port in &cluster.http_ports {
        wait_healthy(port).await?;
    }
    let value: String = "x".repeat(args.value_bytes);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup_seconds);
    let stop_at = measure_from + Duration::from_secs(args.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.clients {
        let port = cluster.http_ports[i % 3];
        tasks.spawn(run_client(
            i,
            port,
            args.keys,
            value.clone(),
            measure_from,
            stop_at,
        ));
    }
    let mut all = ClientResult::default();
    while let Some(done) = tasks.join_next().await {
        let r = done??;
        all.latencies_us.extend(r.latencies_us);
        all.gets += r.gets;
        all.puts += r.puts;
        all.not_found += r.not_found;
        all.errors += r.errors;
    }
    all.latencies_us.sort_unstable();
    let ops = all.latencies_us.len() as f64;
    println!(
        "node-bench: 3 nodes ({} worker threads each; 0 = tokio default), RF=3 R=2 W=2, \
         fsync={}, anti_entropy={}, {} clients, {} keys, {} B values",
        args.node_threads, args.fsync, args.anti_entropy, args.clients, args.keys, args.value_bytes
    );
    println!(
        "measured       {} s (after {} s warm-up)",
        args.seconds, args.warmup_seconds
    );
    println!(
        "ops            {} ({} get, {} put; {} get 404, {} errors)",
        ops, all.gets, all.puts, all.not_found, all.errors
    );
    println!("throughput     {:.0} ops/s", ops / args.seconds as f64);
    println!(
        "latency ms     p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        percentile(&all.latencies_us, 50.0),
        percentile(&all.latencies_us, 90.0),
        percentile(&all.latencies_us, 99.0),
        percentile(&all.latencies_us, 99.9),
        percentile(&all.latencies_us, 100.0)
    );
    drop(cluster);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("node-bench: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node-bench: {e}");
            ExitCode::from(1)
        }
    }
}

//! Command-line flags of `converge-node` (docs/node-api.md).

use crate::types::NodeId;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// converge-node: the reference Dynamo-style replica that converge tests.
///
/// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 2 bad flags or config,
/// 1 runtime failure (e.g. storage cannot open, an address is taken).
#[derive(Debug, Parser)]
#[command(name = "converge-node", version)]
pub struct Cli {
    /// This node's id, unique in the cluster (e.g. n1).
    #[arg(long, value_name = "ID", value_parser = parse_id)]
    pub id: NodeId,

    /// Client and admin HTTP address (e.g. 127.0.0.1:7001).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Internode address; internode traffic is served only here.
    #[arg(long = "peer-listen", value_name = "ADDR")]
    pub peer_listen: SocketAddr,

    /// Once per other member: ID=ADDR, the address this node dials to reach
    /// that peer (the harness points these at its proxies).
    #[arg(long = "peer", value_name = "ID=ADDR", value_parser = parse_peer)]
    pub peers: Vec<PeerArg>,

    /// This node's storage directory; created if missing.
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// TOML config ([cluster], [storage], [tombstones], ...); every field
    /// has a default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Zoo builds only: run with this injected repair bug (one per
    /// process; docs/zoo.md). Without it the node behaves as the reference.
    #[cfg(feature = "zoo")]
    #[arg(long = "zoo-bug", value_name = "NAME", value_enum)]
    pub zoo_bug: Option<crate::zoo::Bug>,
}

/// One `--peer ID=ADDR`.
#[derive(Clone, Debug)]
pub struct PeerArg {
    pub id: NodeId,
    /// `host:port`, dialled as given (may be a hostname).
    pub addr: String,
}

fn parse_id(raw: &str) -> Result<NodeId, String> {
    if raw.is_empty()
        || raw.len() > 64
        || raw.contains(['=', '#'])
        || raw.contains(char::is_whitespace)
    {
        return Err(format!(
            "node id {raw:?} must be 1..=64 characters without '=', '#' or spaces"
        ));
    }
    Ok(NodeId::new(raw))
}

fn parse_peer(raw: &str) -> Result<PeerArg, String> {
    let (id, addr) = raw
        .split_once('=')
        .ok_or_else(|| format!("--peer {raw:?} must be ID=ADDR"))?;
    let id = parse_id(id)?;
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
        _ => return Err(format!("--peer {raw:?}: address must be HOST:PORT")),
    }
    Ok(PeerArg {
        id,
        addr: addr.to_owned(),
    })
}

impl Cli {
    /// Checks what clap cannot: distinct ids.
    pub fn validate(&self) -> Result<(), String> {
        let mut ids: Vec<&NodeId> = self.peers.iter().map(|p| &p.id).collect();
        ids.push(&self.id);
        ids.sort();
        for pair in ids.windows(2) {
            if pair[0] == pair[1] {
                return Err(format!(
                    "node id {} appears twice (--id and --peer ids must be distinct)",
                    pair[0]
                ));
            }
        }
        Ok(())
    }
}

//! Deploying a cluster for a run: the local backend wired together (node
//! binary, ports, proxy mesh, node processes, clock control).
//!
//! Everything that can be checked before a process starts is checked first
//! (binary, ports), so bad input leaves no half-started cluster behind.
//! Other backends (issue 7) get their own `deploy_*` function returning the
//! same [`Cluster`].

use crate::client::NodeClient;
use crate::clock::AdminClock;
use crate::cluster::Cluster;
use crate::config::TestConfig;
use crate::db::local::{HeldPorts, NodeLayout, allocate_ports};
use crate::db::{LocalDb, LocalLayout, binary};
use crate::net::ProxyMesh;
use crate::node_id::NodeId;
use crate::store::RunDir;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What must be true before the store is touched: the binary exists and the
/// ports are free. The listeners are released right away; nodes bind them
/// a moment later.
pub struct Preflight {
    pub bin: PathBuf,
    pub nodes: Vec<NodeId>,
    /// Per node: (client address, internode address).
    pub addrs: Vec<(SocketAddr, SocketAddr)>,
    /// The nodes' ports, reserved until [`start_all`].
    pub held: HeldPorts,
}

/// Checks the binary and the ports. Errors are one line each (exit 2).
pub fn preflight(cfg: &TestConfig) -> Result<Preflight, String> {
    let bin = binary::resolve(cfg.deploy.node_bin.as_deref()).map_err(|e| e.to_string())?;
    let nodes = NodeId::cluster(cfg.test.nodes as usize);
    let (addrs, held) = allocate_ports(&nodes, cfg.deploy.base_port).map_err(|e| e.to_string())?;
    Ok(Preflight {
        bin,
        nodes,
        addrs,
        held,
    })
}

/// How long a node may take to answer `/health` at startup.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the proxies and prepares (but does not start) the nodes of a
/// local cluster; [`start_all`] starts them once the caller holds a
/// teardown guard. Any node started later is killed when the cluster's
/// `LocalDb` is dropped, so an error anywhere leaves no process behind.
pub async fn deploy_local(
    cfg: &TestConfig,
    pre: Preflight,
    run: &RunDir,
) -> Result<(Arc<Cluster>, HeldPorts), String> {
    let peer_listen: BTreeMap<NodeId, SocketAddr> = pre
        .nodes
        .iter()
        .cloned()
        .zip(pre.addrs.iter().map(|a| a.1))
        .collect();
    let mesh = ProxyMesh::start(&peer_listen)
        .await
        .map_err(|e| format!("cannot start the internode proxies: {e}"))?;
    let mut layouts = Vec::new();
    for (id, (listen, peer)) in pre.nodes.iter().zip(&pre.addrs) {
        let peers = pre
            .nodes
            .iter()
            .filter(|p| *p != id)
            .filter_map(|p| mesh.peer_addr(id, p).map(|a| (p.clone(), a)))
            .collect();
        let dir = run.node_dir(id.as_str());
        layouts.push(NodeLayout {
            id: id.clone(),
            listen: *listen,
            peer_listen: *peer,
            peers,
            data_dir: dir.join("data"),
            log_file: dir.join("node.log"),
        });
    }
    let client_addrs: BTreeMap<NodeId, SocketAddr> = pre
        .nodes
        .iter()
        .cloned()
        .zip(pre.addrs.iter().map(|a| a.0))
        .collect();
    let db = LocalDb::new(LocalLayout {
        bin: pre.bin,
        config_file: run.node_config(),
        nodes: layouts,
        leave_running: cfg.deploy.leave_running,
    })
    .map_err(|e| e.to_string())?;
    let mut admin = BTreeMap::new();
    for (id, addr) in &client_addrs {
        admin.insert(
            id.clone(),
            NodeClient::new(id.clone(), *addr, Duration::from_secs(2))?,
        );
    }
    let cluster = Arc::new(Cluster {
        db: Arc::new(db),
        net: Arc::new(mesh),
        clock: Arc::new(AdminClock::new(client_addrs, Duration::from_secs(1))),
        admin,
    });
    let latency = cfg.nemesis.latency.get();
    if !latency.is_zero() {
        crate::net::Net::set_latency(cluster.net.as_ref(), latency).map_err(|e| e.to_string())?;
    }
    Ok((cluster, pre.held))
}

/// Starts every node and waits for all of them to be healthy.
pub async fn start_all(cluster: &Cluster, held: HeldPorts) -> Result<(), String> {
    drop(held);
    for node in cluster.nodes() {
        cluster.db.start(node).map_err(|e| e.to_string())?;
    }
    for node in cluster.nodes() {
        cluster
            .wait_healthy(node, STARTUP_TIMEOUT)
            .await
            .map_err(|e| with_log_tail(cluster, node, e))?;
    }
    Ok(())
}

/// Appends the last line of the node's log, which usually names the problem
/// (the node's exit-2 message for a bad config).
fn with_log_tail(cluster: &Cluster, node: &NodeId, msg: String) -> String {
    let tail = cluster
        .db
        .log_path(node)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        });
    match tail {
        Some(t) => format!("{msg}: {}", t.trim()),
        None => msg,
    }
}

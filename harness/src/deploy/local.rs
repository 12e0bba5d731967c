//! `--deploy local`: node processes on this machine, every internode link
//! through the harness's [`ProxyMesh`] (partitions and latency without
//! root), clocks through the nodes' `/admin/clock`.
//!
//! [`LocalBackend::prepare`] finds the binary and binds every node port, so
//! a port in use is named before the run directory exists; the ports stay
//! reserved inside the [`LocalDb`] until the first node starts.

use super::{Backend, DeployError, resolve_binary};
use crate::client::NodeClient;
use crate::clock::AdminClock;
use crate::cluster::Cluster;
use crate::config::TestConfig;
use crate::db::local::{HeldPorts, NodeLayout, allocate_ports};
use crate::db::node_spec::NodeSpec;
use crate::db::{Db, LocalDb, LocalLayout};
use crate::net::{LinkShaper, ProxyMesh};
use crate::node_id::NodeId;
use crate::store::RunDir;
use crate::teardown::CleanupStack;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub struct LocalBackend {
    cfg: TestConfig,
    prepared: Option<Prepared>,
}

/// What [`LocalBackend::prepare`] found and reserved.
struct Prepared {
    bin: PathBuf,
    nodes: Vec<NodeId>,
    /// Per node: (client address, internode address).
    addrs: Vec<(SocketAddr, SocketAddr)>,
    held: HeldPorts,
}

impl LocalBackend {
    pub fn new(cfg: TestConfig) -> LocalBackend {
        LocalBackend {
            cfg,
            prepared: None,
        }
    }
}

impl Backend for LocalBackend {
    fn prepare(&mut self) -> Result<(), DeployError> {
        let bin = resolve_binary(&self.cfg)?;
        let nodes = NodeId::cluster(self.cfg.test.nodes as usize);
        let (addrs, held) = allocate_ports(&nodes, self.cfg.deploy.base_port)?;
        self.prepared = Some(Prepared {
            bin,
            nodes,
            addrs,
            held,
        });
        Ok(())
    }

    fn bring_up(&mut self, run: &RunDir) -> Result<Cluster, DeployError> {
        if self.prepared.is_none() {
            self.prepare()?;
        }
        let Some(pre) = self.prepared.take() else {
            return Err(DeployError::Setup(
                "the local backend was not prepared".into(),
            ));
        };
        let cfg = &self.cfg;
        let peer_listen: BTreeMap<NodeId, SocketAddr> = pre
            .nodes
            .iter()
            .cloned()
            .zip(pre.addrs.iter().map(|a| a.1))
            .collect();
        // The proxies' tasks live on the harness's runtime; this runs on
        // one of its blocking threads.
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            DeployError::Setup(format!("the proxy mesh needs the harness's runtime: {e}"))
        })?;
        let mesh = runtime
            .block_on(ProxyMesh::start(&peer_listen))
            .map_err(|e| DeployError::Setup(format!("cannot start the internode proxies: {e}")))?;
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
                spec: NodeSpec {
                    id: id.clone(),
                    listen: *listen,
                    peer_listen: *peer,
                    peers,
                    data_dir: dir.join("data"),
                    config_file: run.node_config(),
                    zoo_bug: cfg.deploy.zoo_bug.clone(),
                },
                log_file: dir.join("node.log"),
            });
        }
        let client_addrs: BTreeMap<NodeId, SocketAddr> = pre
            .nodes
            .iter()
            .cloned()
            .zip(pre.addrs.iter().map(|a| a.0))
            .collect();
        let db = Arc::new(LocalDb::new(
            LocalLayout {
                bin: pre.bin,
                nodes: layouts,
                leave_running: cfg.deploy.leave_running,
            },
            pre.held,
        )?);
        let cleanup = CleanupStack::new();
        if !cfg.deploy.leave_running {
            let nodes = Arc::clone(&db);
            cleanup.push("stopping the nodes", move || Ok(nodes.teardown()?));
        }
        let mut admin = BTreeMap::new();
        for (id, addr) in &client_addrs {
            let client = NodeClient::new(id.clone(), *addr, Duration::from_secs(2))?;
            admin.insert(id.clone(), client);
        }
        let mesh = Arc::new(mesh);
        let latency = cfg.nemesis.latency.get();
        let mut shaper: Option<Arc<dyn LinkShaper>> = None;
        if !latency.is_zero() {
            mesh.set_latency(latency)?;
            shaper = Some(Arc::clone(&mesh) as Arc<dyn LinkShaper>);
        }
        Ok(Cluster {
            db,
            partitioner: mesh,
            shaper,
            clock: Arc::new(AdminClock::new(client_addrs, Duration::from_secs(1))),
            admin,
            cleanup,
        })
    }
}

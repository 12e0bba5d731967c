//! The wiring every remote backend shares, whether its hosts are VMs
//! ([`super::ssh`]) or containers ([`super::docker`]): one node per host.
//!
//! Order matters for clear errors: every host is checked first (root,
//! architecture, iptables, libfaketime when asked for), then binary and
//! config are uploaded, then converge's iptables chain is installed. The
//! nodes start later, from [`super::start_all`].
//!
//! Added latency (`--latency`) routes every internode link through the
//! harness's own [`ProxyMesh`], listening on an address the hosts reach
//! (the Docker network's gateway, or `--proxy-listen`): tc netem is not used,
//! since the kernels of the machines this was built on lack it and an
//! untestable path would be a guess. With the mesh in use, partitions are
//! made by the mesh too: proxied packets arrive from the harness's address,
//! so iptables rules matching peer addresses would no longer cut anything.

use super::DeployError;
use crate::client::NodeClient;
use crate::clock::{AdminClock, Clock};
use crate::clock_faketime::FaketimeClock;
use crate::cluster::Cluster;
use crate::config::{RemoteClock, TestConfig};
use crate::control::{Remote, check_host, exec_ok, parallel};
use crate::db::Db;
use crate::db::node_spec::NodeSpec;
use crate::db::remote::{RemoteDb, RemoteLayout, RemoteNode, node_dir};
use crate::net::iptables::{IptablesNet, remove_script};
use crate::net::{LinkShaper, Partitioner, ProxyMesh};
use crate::node_id::NodeId;
use crate::store::RunDir;
use crate::teardown::CleanupStack;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Default node ports on a host (client, internode) when --base-port is absent.
pub const DEFAULT_BASE_PORT: u16 = 7000;

/// One host holding one node.
pub struct RemoteHost {
    pub id: NodeId,
    pub remote: Arc<dyn Remote>,
    /// The host's address: where the harness reaches the node and where
    /// peers' packets come from.
    pub ip: IpAddr,
}

/// What a remote backend hands to [`wire`].
pub struct RemoteWiring<'a> {
    pub cfg: &'a TestConfig,
    pub bin: &'a Path,
    pub run: &'a RunDir,
    pub hosts: Vec<RemoteHost>,
    pub clock: RemoteClock,
    /// Where the latency proxies listen, when latency is asked for.
    pub proxy_bind: Option<IpAddr>,
    /// The backend's own cleanup so far (containers, say); the nodes and
    /// the iptables chain go on top.
    pub cleanup: CleanupStack,
}

/// Starts the internode proxy mesh on `bind` when the test adds latency
/// (None: no latency, direct links).
fn latency_mesh(
    cfg: &TestConfig,
    bind: Option<IpAddr>,
    hosts: &[RemoteHost],
    peer_port: u16,
) -> Result<Option<ProxyMesh>, DeployError> {
    if cfg.nemesis.latency.get().is_zero() {
        return Ok(None);
    }
    let bind = bind.ok_or_else(|| {
        DeployError::Setup(format!(
            "--latency with --deploy {} needs --proxy-listen ADDR: an address of this machine every host can reach",
            cfg.deploy.target.name()
        ))
    })?;
    let upstreams: BTreeMap<NodeId, SocketAddr> = hosts
        .iter()
        .map(|h| (h.id.clone(), SocketAddr::new(h.ip, peer_port)))
        .collect();
    // `wire` runs on a blocking thread of the runtime; the proxies' tasks
    // are spawned onto that runtime.
    let mesh = tokio::runtime::Handle::try_current()
        .map_err(|e| {
            DeployError::Setup(format!("the proxy mesh needs the harness's runtime: {e}"))
        })?
        .block_on(ProxyMesh::start_on(bind, &upstreams))
        .map_err(|e| {
            DeployError::Setup(format!("cannot start the internode proxies on {bind}: {e}"))
        })?;
    mesh.set_latency(cfg.nemesis.latency.get())?;
    Ok(Some(mesh))
}

/// Checks the hosts, uploads, installs the chain; returns the cluster.
pub fn wire(w: RemoteWiring<'_>) -> Result<Cluster, DeployError> {
    let RemoteWiring {
        cfg,
        bin,
        run,
        hosts,
        clock,
        proxy_bind,
        cleanup,
    } = w;
    let faketime = clock == RemoteClock::Faketime;
    let remotes: Vec<Arc<dyn Remote>> = hosts.iter().map(|h| Arc::clone(&h.remote)).collect();
    for r in parallel(&remotes, |r| check_host(r, faketime)) {
        r?;
    }
    let base = cfg.deploy.base_port.unwrap_or(DEFAULT_BASE_PORT);
    let peer_port = base.checked_add(1).ok_or_else(|| {
        DeployError::Setup("--base-port leaves no room for the internode port".into())
    })?;
    let mesh = latency_mesh(cfg, proxy_bind, &hosts, peer_port)?;
    let any = |port| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port);
    let peer_addr = |from: &RemoteHost, to: &RemoteHost| match &mesh {
        Some(m) => m.peer_addr(&from.id, &to.id),
        None => Some(SocketAddr::new(to.ip, peer_port)),
    };
    let nodes = hosts
        .iter()
        .map(|h| {
            let dir = PathBuf::from(node_dir(&h.id));
            RemoteNode {
                spec: NodeSpec {
                    id: h.id.clone(),
                    listen: any(base),
                    peer_listen: any(peer_port),
                    peers: hosts
                        .iter()
                        .filter(|p| p.id != h.id)
                        .filter_map(|p| peer_addr(h, p).map(|a| (p.id.clone(), a)))
                        .collect(),
                    data_dir: dir.join("data"),
                    config_file: dir.join("node.toml"),
                    zoo_bug: cfg.deploy.zoo_bug.clone(),
                },
                remote: Arc::clone(&h.remote),
                client_addr: SocketAddr::new(h.ip, base),
                local_log: run.node_dir(h.id.as_str()).join("node.log"),
            }
        })
        .collect();
    let leave_running = cfg.deploy.leave_running;
    if !leave_running {
        // Unwound after the nodes stop: nothing of converge's stays in a
        // host's firewall (the script is harmless where no chain exists).
        let hosts = remotes.clone();
        cleanup.push("removing the iptables chain", move || {
            parallel(&hosts, |r| exec_ok(r, &remove_script()).map(|_| ()))
                .into_iter()
                .find_map(Result::err)
                .map_or(Ok(()), |e| Err(e.into()))
        });
    }
    let db = Arc::new(RemoteDb::setup(RemoteLayout {
        bin: bin.to_path_buf(),
        config_file: run.node_config(),
        nodes,
        faketime,
        leave_running,
    })?);
    if !leave_running {
        let nodes = Arc::clone(&db);
        cleanup.push("stopping the nodes", move || Ok(nodes.teardown()?));
    }
    // With latency the mesh both cuts and delays; otherwise iptables cuts
    // and, with --loss, drops.
    let (partitioner, shaper): (Arc<dyn Partitioner>, Option<Arc<dyn LinkShaper>>) = match mesh {
        Some(mesh) => {
            let mesh = Arc::new(mesh);
            (Arc::clone(&mesh) as Arc<dyn Partitioner>, Some(mesh))
        }
        None => {
            let net = Arc::new(IptablesNet::install(
                hosts
                    .iter()
                    .map(|h| (h.id.clone(), (Arc::clone(&h.remote), h.ip)))
                    .collect(),
            )?);
            let mut shaper: Option<Arc<dyn LinkShaper>> = None;
            if cfg.nemesis.loss > 0.0 {
                net.set_loss(cfg.nemesis.loss)?;
                shaper = Some(Arc::clone(&net) as Arc<dyn LinkShaper>);
            }
            (net, shaper)
        }
    };
    let clock: Arc<dyn Clock> = match clock {
        RemoteClock::Faketime => Arc::new(FaketimeClock::new(
            hosts
                .iter()
                .map(|h| (h.id.clone(), Arc::clone(&h.remote)))
                .collect(),
        )),
        RemoteClock::Admin => Arc::new(AdminClock::new(
            hosts
                .iter()
                .map(|h| (h.id.clone(), SocketAddr::new(h.ip, base)))
                .collect(),
            Duration::from_secs(1),
        )),
    };
    let mut admin = BTreeMap::new();
    for h in &hosts {
        let client = NodeClient::new(
            h.id.clone(),
            SocketAddr::new(h.ip, base),
            Duration::from_secs(2),
        )?;
        admin.insert(h.id.clone(), client);
    }
    let db: Arc<dyn Db> = db;
    Ok(Cluster {
        db,
        partitioner,
        shaper,
        clock,
        admin,
        cleanup,
    })
}

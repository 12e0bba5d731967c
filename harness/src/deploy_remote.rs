//! Deploying onto remote hosts, one node per host: the wiring shared by
//! `--deploy ssh` (VMs) and `--deploy docker` (containers), and the SSH
//! backend's host connection.
//!
//! Order matters for clear errors: every host is checked first (root,
//! architecture, iptables, libfaketime when asked for), then binary and
//! config are uploaded, then converge's iptables chain is installed. The
//! nodes start later, from [`crate::deploy::start_all`].
//!
//! Added latency (`--latency`) routes every internode link through the
//! harness's own [`ProxyMesh`], listening on an address the hosts reach
//! (the Docker network's gateway, or `--proxy-listen`): tc netem is not used,
//! since the kernels of the machines this was built on lack it and an
//! untestable path would be a guess. With the mesh in use, partitions are
//! made by the mesh too: proxied packets arrive from the harness's address,
//! so iptables rules matching peer addresses would no longer cut anything.

use crate::client::NodeClient;
use crate::clock::{AdminClock, Clock};
use crate::clock_faketime::FaketimeClock;
use crate::config::TestConfig;
use crate::control::{Remote, SshOptions, SshRemote, check_host, parallel};
use crate::db::remote::{RemoteDb, RemoteLayout, RemoteNode};
use crate::net::iptables::{IptablesNet, remove_script};
use crate::net::{Net, ProxyMesh};
use crate::node_id::NodeId;
use crate::store::RunDir;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
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

/// The three seams and the admin clients of a remote cluster.
pub struct RemoteParts {
    pub db: RemoteDb,
    pub net: Arc<dyn Net>,
    pub clock: Arc<dyn Clock>,
    pub admin: BTreeMap<NodeId, NodeClient>,
}

/// Starts the internode proxy mesh on `bind` when the test adds latency
/// (None: no latency, direct links).
fn latency_mesh(
    cfg: &TestConfig,
    bind: Option<IpAddr>,
    hosts: &[RemoteHost],
    peer_port: u16,
) -> Result<Option<ProxyMesh>, String> {
    if cfg.nemesis.latency.get().is_zero() {
        return Ok(None);
    }
    let bind = bind.ok_or_else(|| {
        format!(
            "--latency with --deploy {} needs --proxy-listen ADDR: an address of this machine every host can reach",
            cfg.deploy.kind
        )
    })?;
    let upstreams: BTreeMap<NodeId, SocketAddr> = hosts
        .iter()
        .map(|h| (h.id.clone(), SocketAddr::new(h.ip, peer_port)))
        .collect();
    // `wire` runs on a blocking thread of the runtime; the proxies' tasks
    // are spawned onto that runtime.
    let mesh = tokio::runtime::Handle::try_current()
        .map_err(|e| format!("the proxy mesh needs the harness's runtime: {e}"))?
        .block_on(ProxyMesh::start_on(bind, &upstreams))
        .map_err(|e| format!("cannot start the internode proxies on {bind}: {e}"))?;
    mesh.set_latency(cfg.nemesis.latency.get())
        .map_err(|e| e.to_string())?;
    Ok(Some(mesh))
}

/// Checks the hosts, uploads, installs the chain; returns the seams.
/// `proxy_bind` is where the latency proxies listen, when latency is asked for.
pub fn wire(
    cfg: &TestConfig,
    bin: &Path,
    run: &RunDir,
    hosts: &[RemoteHost],
    proxy_bind: Option<IpAddr>,
) -> Result<RemoteParts, String> {
    let faketime = cfg.wants_faketime().map_err(|e| e.0)?;
    let remotes: Vec<Arc<dyn Remote>> = hosts.iter().map(|h| Arc::clone(&h.remote)).collect();
    for r in parallel(&remotes, |r| check_host(r, faketime)) {
        r.map_err(|e| e.to_string())?;
    }
    let base = cfg.deploy.base_port.unwrap_or(DEFAULT_BASE_PORT);
    let peer_port = base
        .checked_add(1)
        .ok_or("--base-port leaves no room for the internode port")?;
    let mesh = latency_mesh(cfg, proxy_bind, hosts, peer_port)?;
    let any = |port| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port);
    let peer_addr = |from: &RemoteHost, to: &RemoteHost| match &mesh {
        Some(m) => m.peer_addr(&from.id, &to.id),
        None => Some(SocketAddr::new(to.ip, peer_port)),
    };
    let nodes = hosts
        .iter()
        .map(|h| RemoteNode {
            id: h.id.clone(),
            remote: Arc::clone(&h.remote),
            client_addr: SocketAddr::new(h.ip, base),
            listen: any(base),
            peer_listen: any(peer_port),
            peers: hosts
                .iter()
                .filter(|p| p.id != h.id)
                .filter_map(|p| peer_addr(h, p).map(|a| (p.id.clone(), a)))
                .collect(),
            local_log: run.node_dir(h.id.as_str()).join("node.log"),
        })
        .collect();
    let db = RemoteDb::setup(RemoteLayout {
        bin: bin.to_path_buf(),
        config_file: run.node_config(),
        nodes,
        faketime,
        leave_running: cfg.deploy.leave_running,
        host_cleanup: vec![remove_script()],
    })
    .map_err(|e| e.to_string())?;
    let net: Arc<dyn Net> = match mesh {
        Some(mesh) => Arc::new(mesh),
        None => {
            let net = IptablesNet::install(
                hosts
                    .iter()
                    .map(|h| (h.id.clone(), (Arc::clone(&h.remote), h.ip)))
                    .collect(),
            )
            .map_err(|e| e.to_string())?;
            net.set_loss(cfg.nemesis.loss).map_err(|e| e.to_string())?;
            Arc::new(net)
        }
    };
    let clock: Arc<dyn Clock> = if faketime {
        Arc::new(FaketimeClock::new(
            hosts
                .iter()
                .map(|h| (h.id.clone(), Arc::clone(&h.remote)))
                .collect(),
        ))
    } else {
        Arc::new(AdminClock::new(
            hosts
                .iter()
                .map(|h| (h.id.clone(), SocketAddr::new(h.ip, base)))
                .collect(),
            Duration::from_secs(1),
        ))
    };
    let mut admin = BTreeMap::new();
    for h in hosts {
        admin.insert(
            h.id.clone(),
            NodeClient::new(
                h.id.clone(),
                SocketAddr::new(h.ip, base),
                Duration::from_secs(2),
            )?,
        );
    }
    Ok(RemoteParts {
        db,
        net,
        clock,
        admin,
    })
}

/// SSH settings from the config, with the usual defaults.
pub fn ssh_options(cfg: &TestConfig) -> Result<SshOptions, String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let from_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
    let key = match &cfg.deploy.ssh_key {
        Some(k) => k.clone(),
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .filter_map(|k| from_home(&format!(".ssh/{k}")))
            .find(|p| p.exists())
            .ok_or("no SSH key found in ~/.ssh; pass --ssh-key FILE")?,
    };
    if !key.exists() {
        return Err(format!("SSH key {} does not exist", key.display()));
    }
    let known_hosts = match &cfg.deploy.known_hosts {
        Some(k) => k.clone(),
        None => from_home(".ssh/known_hosts").ok_or("HOME is not set; pass --known-hosts FILE")?,
    };
    Ok(SshOptions {
        user: cfg.deploy.ssh_user.clone(),
        port: cfg.deploy.ssh_port,
        key,
        known_hosts,
        accept_new: cfg.deploy.ssh_accept_new,
        connect_timeout: Duration::from_secs(20),
        op_timeout: Duration::from_secs(30),
    })
}

/// Connects to every host in parallel (errors name the host).
pub fn connect_all(names: &[String], opts: &SshOptions) -> Result<Vec<Arc<dyn Remote>>, String> {
    if opts.accept_new {
        // One at a time: accept-new rewrites the shared known_hosts file.
        return names
            .iter()
            .map(|h| {
                SshRemote::connect(h, opts.clone())
                    .map(|r| Arc::new(r) as Arc<dyn Remote>)
                    .map_err(|e| e.to_string())
            })
            .collect();
    }
    let results: Vec<Result<Arc<dyn Remote>, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|h| s.spawn(move || SshRemote::connect(h, opts.clone())))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(Ok(r)) => Ok(Arc::new(r) as Arc<dyn Remote>),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("an SSH connect thread panicked".into()),
            })
            .collect()
    });
    results.into_iter().collect()
}

/// `--deploy ssh`: one node per `--hosts` entry.
pub fn deploy_ssh(
    cfg: &TestConfig,
    bin: &Path,
    run: &RunDir,
) -> Result<crate::cluster::Cluster, String> {
    let opts = ssh_options(cfg)?;
    let names = &cfg.deploy.hosts;
    let remotes = connect_all(names, &opts)?;
    let mut hosts = Vec::new();
    for (i, (name, remote)) in names.iter().zip(remotes).enumerate() {
        let ip = (name.as_str(), opts.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| format!("host {name}: cannot resolve its address"))?;
        hosts.push(RemoteHost {
            id: NodeId::nth(i),
            remote,
            ip,
        });
    }
    let parts = wire(cfg, bin, run, &hosts, cfg.deploy.proxy_listen)?;
    Ok(crate::cluster::Cluster {
        db: Arc::new(parts.db),
        net: parts.net,
        clock: parts.clock,
        admin: parts.admin,
    })
}

/// Deploys with the configured backend. Remote backends do their blocking
/// work (docker, SSH) on a blocking thread; they hold no local ports.
pub async fn deploy(
    cfg: &TestConfig,
    pre: crate::deploy::Preflight,
    run: &RunDir,
) -> Result<(Arc<crate::cluster::Cluster>, crate::db::local::HeldPorts), String> {
    let kind = cfg.deploy.kind.clone();
    if kind == "local" {
        return crate::deploy::deploy_local(cfg, pre, run).await;
    }
    drop(pre.held);
    let (_, no_ports) = crate::db::local::allocate_ports(&[], None).map_err(|e| e.to_string())?;
    let (cfg, bin, run) = (cfg.clone(), pre.bin, run.clone());
    let cluster = tokio::task::spawn_blocking(move || match kind.as_str() {
        "docker" => crate::deploy_docker::deploy_docker(&cfg, &bin, &run),
        _ => deploy_ssh(&cfg, &bin, &run),
    })
    .await
    .map_err(|e| format!("deploy task failed: {e}"))??;
    Ok((Arc::new(cluster), no_ports))
}

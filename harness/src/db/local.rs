//! The local backend: node processes on loopback, one data dir each under the
//! run directory.
//!
//! Each node runs in its own process group, so a signal reaches it and any
//! helper it forks, and a Ctrl-C typed at the harness's terminal does not hit
//! the nodes before the harness has healed the cluster. Unless the operator
//! asked to leave the cluster running, nodes also get `PR_SET_PDEATHSIG`, so
//! even a harness killed with SIGKILL leaves no orphan.

use super::node_spec::NodeSpec;
use super::spawner::Spawner;
use super::{Db, DbError, NodeStatus};
use crate::node_id::NodeId;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::hash::{BuildHasher, RandomState};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// One local node: its command line and its files.
#[derive(Debug, Clone)]
pub struct NodeLayout {
    /// Its data dir is a directory of the run's, created at setup.
    pub spec: NodeSpec,
    pub log_file: PathBuf,
}

/// Everything [`LocalDb`] needs to launch a cluster.
#[derive(Debug, Clone)]
pub struct LocalLayout {
    pub bin: PathBuf,
    pub nodes: Vec<NodeLayout>,
    /// Keep nodes alive after the harness exits (no death signal, no kill).
    pub leave_running: bool,
}

/// Why the listeners could not be allocated.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("port {port} on 127.0.0.1 is in use ({what}); pick another --base-port or free it")]
    InUse { port: u16, what: String },
    #[error("cannot allocate a loopback port: {0}")]
    Io(#[from] std::io::Error),
}

/// Picks each node's client and internode addresses: `base_port + 2i` and
/// `base_port + 2i + 1`, or free ports below the kernel's ephemeral range
/// when `base_port` is `None` (see [`bind_below_ephemeral_range`]).
/// Every port is bound here, so a port in use is reported before any node
/// starts, and stays bound in the returned [`HeldPorts`] until the nodes are
/// about to start, so nothing else (the proxies' own ephemeral ports) takes
/// them in between.
pub fn allocate_ports(
    nodes: &[NodeId],
    base_port: Option<u16>,
) -> Result<(Vec<(SocketAddr, SocketAddr)>, HeldPorts), PortError> {
    let mut held = Vec::new();
    let mut bind = |port: u16, what: String| -> Result<SocketAddr, PortError> {
        let bound = match port {
            0 => bind_below_ephemeral_range(),
            port => TcpListener::bind(("127.0.0.1", port)),
        };
        let l = bound.map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse | std::io::ErrorKind::PermissionDenied if port != 0 => {
                PortError::InUse { port, what }
            }
            _ => PortError::Io(e),
        })?;
        let addr = l.local_addr()?;
        held.push(l); // keep bound until all are chosen, so none repeats
        Ok(addr)
    };
    let mut out = Vec::new();
    for (i, id) in nodes.iter().enumerate() {
        let (client, peer) = match base_port {
            Some(base) => {
                let p = u16::try_from(u32::from(base) + 2 * i as u32 + 1).map_err(|_| {
                    PortError::InUse {
                        port: u16::MAX,
                        what: format!(
                            "--base-port {base} leaves no room for {} nodes",
                            nodes.len()
                        ),
                    }
                })?;
                (p - 1, p)
            }
            None => (0, 0),
        };
        let c = bind(client, format!("node {id} client listener"))?;
        let p = bind(peer, format!("node {id} internode listener"))?;
        out.push((c, p));
    }
    Ok((out, HeldPorts { _listeners: held }))
}

/// Binds a free loopback port below the kernel's ephemeral range.
///
/// A crashed node restarts on its old ports. Had they come from the ephemeral
/// range (binding port 0), the kernel could give one, while the node is down,
/// to any outgoing connection (a client's, a proxy's) as its source port, and
/// the restart would fail with "address in use". Below the range a port is
/// only ever taken by an explicit bind. Each try moves on to the next port,
/// from a random start per process, so harnesses started together (a sharded
/// sweep's slices) seldom meet; a start derived from the pid would not do,
/// since their pids are consecutive. Falls back to an ephemeral port when
/// the range below is full.
fn bind_below_ephemeral_range() -> std::io::Result<TcpListener> {
    static START: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u16 = 10000;
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let span = u32::from(first_ephemeral.saturating_sub(LOW));
    if span > 0 {
        // RandomState is seeded from the OS: a random number without a crate.
        let start =
            *START.get_or_init(|| RandomState::new().hash_one(std::process::id()) as u32) % span;
        for _ in 0..span.min(1000) {
            let step = NEXT.fetch_add(1, Ordering::Relaxed);
            // In range: the offset is below `span`, which fits in a u16.
            let port = LOW + ((start + step) % span) as u16;
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
                return Ok(listener);
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
}

/// Listeners keeping the nodes' ports reserved; drop just before starting them.
pub struct HeldPorts {
    /// Never read: holding them is the point.
    _listeners: Vec<TcpListener>,
}

struct NodeProcess {
    child: Child,
    paused: bool,
}

/// A cluster of `converge-node` processes on this machine.
pub struct LocalDb {
    layout: LocalLayout,
    ids: Vec<NodeId>,
    /// The nodes' ports, held until the first node starts.
    reserved: Mutex<Option<HeldPorts>>,
    /// Live processes. A std Mutex: held only for quick, non-async work.
    procs: Mutex<Procs>,
    spawner: Spawner,
}

#[derive(Default)]
struct Procs {
    running: BTreeMap<NodeId, NodeProcess>,
    /// How nodes that exited on their own ended.
    exited: BTreeMap<NodeId, String>,
    torn_down: bool,
}

impl LocalDb {
    /// Prepares (does not start) the nodes; `reserved` keeps their ports
    /// bound until the first start.
    pub fn new(layout: LocalLayout, reserved: HeldPorts) -> Result<LocalDb, DbError> {
        for n in &layout.nodes {
            let dir = &n.spec.data_dir;
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        }
        let ids = layout.nodes.iter().map(|n| n.spec.id.clone()).collect();
        let spawner = Spawner::new()
            .map_err(|e| DbError::Setup(format!("cannot start the spawner thread: {e}")))?;
        Ok(LocalDb {
            layout,
            ids,
            reserved: Mutex::new(Some(reserved)),
            procs: Mutex::new(Procs::default()),
            spawner,
        })
    }

    fn node(&self, id: &NodeId) -> Result<&NodeLayout, DbError> {
        self.layout
            .nodes
            .iter()
            .find(|n| &n.spec.id == id)
            .ok_or_else(|| DbError::UnknownNode(id.clone()))
    }

    fn procs(&self) -> std::sync::MutexGuard<'_, Procs> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (every mutation is a single insert or remove), so recover it.
        self.procs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn command(&self, n: &NodeLayout) -> Result<Command, DbError> {
        let spawn_err = |source| DbError::Spawn {
            node: n.spec.id.clone(),
            bin: self.layout.bin.clone(),
            source,
        };
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log_file)
            .map_err(spawn_err)?;
        let log2 = log.try_clone().map_err(spawn_err)?;
        let mut cmd = Command::new(&self.layout.bin);
        cmd.args(n.spec.args())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0);
        if !self.layout.leave_running {
            let harness = std::process::id() as libc::pid_t;
            // SAFETY: prctl and getppid are async-signal-safe syscalls; the
            // closure allocates nothing and touches no locks.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The harness died between fork and prctl: do not linger.
                    if libc::getppid() != harness {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
        }
        Ok(cmd)
    }

    fn signal(&self, id: &NodeId, sig: Signal) -> Result<(), DbError> {
        let procs = self.procs();
        let p = procs.running.get(id).ok_or_else(|| DbError::Signal {
            node: id.clone(),
            reason: "it is not running".into(),
        })?;
        send(id, &p.child, sig)
    }
}

fn send(id: &NodeId, child: &Child, sig: Signal) -> Result<(), DbError> {
    let pgid = Pid::from_raw(child.id() as i32);
    killpg(pgid, sig).map_err(|e| DbError::Signal {
        node: id.clone(),
        reason: format!("{sig}: {e}"),
    })
}

impl Db for LocalDb {
    fn nodes(&self) -> &[NodeId] {
        &self.ids
    }

    fn client_addr(&self, node: &NodeId) -> Option<SocketAddr> {
        self.node(node).ok().map(|n| n.spec.listen)
    }

    fn start(&self, id: &NodeId) -> Result<(), DbError> {
        let layout = self.node(id)?;
        let mut procs = self.procs();
        if procs.torn_down {
            return Err(DbError::TornDown(id.clone()));
        }
        if procs.running.contains_key(id) {
            return Ok(());
        }
        // Release every reserved port at once: the nodes bind them now.
        let released = self
            .reserved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(released);
        let cmd = self.command(layout)?;
        let child = self.spawner.spawn(cmd).map_err(|source| DbError::Spawn {
            node: id.clone(),
            bin: self.layout.bin.clone(),
            source,
        })?;
        procs.exited.remove(id);
        procs.running.insert(
            id.clone(),
            NodeProcess {
                child,
                paused: false,
            },
        );
        Ok(())
    }

    fn kill(&self, id: &NodeId) -> Result<(), DbError> {
        let mut procs = self.procs();
        let Some(mut p) = procs.running.remove(id) else {
            return Ok(()); // already down
        };
        // SIGKILL works on a stopped process too; ESRCH means it already died.
        let _ = send(id, &p.child, Signal::SIGKILL);
        let _ = p.child.kill();
        let _ = p.child.wait(); // reap: no zombie
        Ok(())
    }

    fn pause(&self, id: &NodeId) -> Result<(), DbError> {
        self.signal(id, Signal::SIGSTOP)?;
        if let Some(p) = self.procs().running.get_mut(id) {
            p.paused = true;
        }
        Ok(())
    }

    fn resume(&self, id: &NodeId) -> Result<(), DbError> {
        self.signal(id, Signal::SIGCONT)?;
        if let Some(p) = self.procs().running.get_mut(id) {
            p.paused = false;
        }
        Ok(())
    }

    fn wipe(&self, id: &NodeId) -> Result<(), DbError> {
        let dir = &self.node(id)?.spec.data_dir;
        if self.procs().running.contains_key(id) {
            return Err(DbError::Wipe {
                node: id.clone(),
                source: std::io::Error::other("the node is still running; kill it first"),
            });
        }
        let wipe_err = |source| DbError::Wipe {
            node: id.clone(),
            source,
        };
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(wipe_err(e)),
        }
        std::fs::create_dir_all(dir).map_err(wipe_err)
    }

    fn status(&self, id: &NodeId) -> NodeStatus {
        let mut procs = self.procs();
        let exited = match procs.running.get_mut(id) {
            Some(p) => match p.child.try_wait() {
                Ok(None) if p.paused => return NodeStatus::Paused,
                Ok(None) => return NodeStatus::Running,
                Ok(Some(status)) => status.to_string(),
                Err(e) => format!("unknown ({e})"),
            },
            None => {
                return procs
                    .exited
                    .get(id)
                    .map_or(NodeStatus::Down, |s| NodeStatus::Exited(s.clone()));
            }
        };
        procs.running.remove(id);
        procs.exited.insert(id.clone(), exited.clone());
        NodeStatus::Exited(exited)
    }

    fn log_path(&self, id: &NodeId) -> Option<PathBuf> {
        self.node(id).ok().map(|n| n.log_file.clone())
    }

    fn teardown(&self) -> Result<(), DbError> {
        let ids: Vec<NodeId> = {
            let mut procs = self.procs();
            procs.torn_down = true;
            procs.running.keys().cloned().collect()
        };
        for id in &ids {
            self.kill(id)?;
        }
        Ok(())
    }
}

impl Drop for LocalDb {
    /// The last line of defence: whatever happened, no node outlives its
    /// cluster object unless the operator asked for that.
    fn drop(&mut self) {
        if !self.layout.leave_running {
            let _ = self.teardown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let (ports, _held) = allocate_ports(&NodeId::cluster(3), None).unwrap();
        let mut all: Vec<u16> = ports
            .iter()
            .flat_map(|(a, b)| [a.port(), b.port()])
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn free_ports_come_from_below_the_ephemeral_range() {
        let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<u16>()
            .unwrap();
        let (ports, _held) = allocate_ports(&NodeId::cluster(3), None).unwrap();
        for (client, peer) in ports {
            for port in [client.port(), peer.port()] {
                assert!(
                    (10000..first_ephemeral).contains(&port),
                    "{port} is not below {first_ephemeral}"
                );
            }
        }
    }

    #[test]
    fn a_base_port_in_use_is_named() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = allocate_ports(&NodeId::cluster(1), Some(port))
            .err()
            .unwrap();
        assert!(err.to_string().contains(&format!("port {port} ")), "{err}");
    }

    /// `sleep` stands in for a node: it proves kill, pause and teardown act on
    /// real processes.
    #[test]
    fn teardown_kills_every_process_and_refuses_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-node");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 600\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ids = NodeId::cluster(2);
        let (addrs, held) = allocate_ports(&ids, None).unwrap();
        let nodes = ids
            .iter()
            .zip(addrs)
            .map(|(id, (listen, peer_listen))| NodeLayout {
                spec: NodeSpec {
                    id: id.clone(),
                    listen,
                    peer_listen,
                    peers: BTreeMap::new(),
                    data_dir: dir.path().join(id.as_str()).join("data"),
                    config_file: dir.path().join("node.toml"),
                    zoo_bug: None,
                },
                log_file: dir.path().join(format!("{id}.log")),
            })
            .collect();
        let db = LocalDb::new(
            LocalLayout {
                bin: script,
                nodes,
                leave_running: false,
            },
            held,
        )
        .unwrap();
        for id in &ids {
            db.start(id).unwrap();
        }
        let pids: Vec<i32> = ids
            .iter()
            .map(|id| db.procs().running[id].child.id() as i32)
            .collect();
        db.pause(&ids[0]).unwrap();
        assert_eq!(db.status(&ids[0]), NodeStatus::Paused);
        assert_eq!(db.status(&ids[1]), NodeStatus::Running);
        db.teardown().unwrap();
        for pid in pids {
            // Signal 0 probes existence: the process must be gone (reaped).
            assert!(nix::sys::signal::kill(Pid::from_raw(pid), None).is_err());
        }
        assert!(matches!(db.start(&ids[0]), Err(DbError::TornDown(_))));
    }
}

//! [`RemoteDb`]: node processes on remote hosts (VMs or containers), one
//! node per host, driven through the control layer ([`crate::control`]).
//!
//! Layout on a host, all under [`BASE_DIR`]`/<node>`: `converge-node` (the
//! uploaded binary), `node.toml`, `data/`, `node.log`, `node.pid` and, with
//! the faketime clock, `faketime` (the offset libfaketime re-reads on every
//! call). Setup wipes this directory and kills a node a crashed harness left
//! running, so every run starts from nothing.
//!
//! Nodes are started detached (`setsid`, stdio to the log) and signalled by
//! the pid in the pidfile. The node's state is tracked here, not polled
//! (each probe is a round trip); a node that dies on its own is noticed by
//! its failing `/health` instead.

use super::node_spec::NodeSpec;
use super::{Db, DbError, NodeStatus};
use crate::control::{FAKETIME_LIB, Remote, exec_ok, parallel, shell_quote};
use crate::node_id::NodeId;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where everything of converge's lives on a host.
pub const BASE_DIR: &str = "/var/lib/converge";

/// One node on one host.
#[derive(Clone)]
pub struct RemoteNode {
    /// Its data dir and config file are under [`node_dir`] on the host.
    pub spec: NodeSpec,
    pub remote: Arc<dyn Remote>,
    /// Where the harness reaches the node's client/admin HTTP.
    pub client_addr: SocketAddr,
    /// Where the node's log is downloaded at teardown.
    pub local_log: PathBuf,
}

impl RemoteNode {
    fn id(&self) -> &NodeId {
        &self.spec.id
    }
}

/// Everything [`RemoteDb`] needs.
pub struct RemoteLayout {
    pub bin: PathBuf,
    pub config_file: PathBuf,
    pub nodes: Vec<RemoteNode>,
    /// Start nodes under libfaketime (see [`crate::clock_faketime`]).
    pub faketime: bool,
    pub leave_running: bool,
}

pub struct RemoteDb {
    layout: RemoteLayout,
    ids: Vec<NodeId>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    status: BTreeMap<NodeId, NodeStatus>,
    torn_down: bool,
}

/// The node's directory on its host.
pub fn node_dir(id: &NodeId) -> String {
    format!("{BASE_DIR}/{id}")
}

/// The faketime offset file of a node.
pub fn faketime_file(id: &NodeId) -> String {
    format!("{}/faketime", node_dir(id))
}

impl RemoteDb {
    /// Wipes leftovers and uploads binary and config to every host, in
    /// parallel. Errors name the host.
    pub fn setup(layout: RemoteLayout) -> Result<RemoteDb, DbError> {
        let remotes: Vec<Arc<dyn Remote>> =
            layout.nodes.iter().map(|n| Arc::clone(&n.remote)).collect();
        let by_host: BTreeMap<&str, &RemoteNode> =
            layout.nodes.iter().map(|n| (n.remote.host(), n)).collect();
        let results = parallel(&remotes, |r| {
            let Some(node) = by_host.get(r.host()) else {
                return Ok(());
            };
            let dir = node_dir(node.id());
            exec_ok(
                r,
                &format!(
                    "{}; rm -rf {dir}; mkdir -p {dir}/data",
                    kill_script(node.id(), "KILL")
                ),
            )?;
            r.upload(&layout.bin, &format!("{dir}/converge-node"))?;
            r.upload(&layout.config_file, &format!("{dir}/node.toml"))?;
            exec_ok(
                r,
                &format!(
                    "chmod 755 {dir}/converge-node; printf '+0s' > {}",
                    faketime_file(node.id())
                ),
            )?;
            Ok(())
        });
        for r in results {
            r?;
        }
        let ids = layout.nodes.iter().map(|n| n.id().clone()).collect();
        Ok(RemoteDb {
            layout,
            ids,
            state: Mutex::new(State::default()),
        })
    }

    fn node(&self, id: &NodeId) -> Result<&RemoteNode, DbError> {
        self.layout
            .nodes
            .iter()
            .find(|n| n.id() == id)
            .ok_or_else(|| DbError::UnknownNode(id.clone()))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start_script(&self, n: &RemoteNode) -> String {
        let dir = node_dir(n.id());
        let args: Vec<String> = n
            .spec
            .args()
            .iter()
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect();
        let args = args.join(" ");
        // FAKETIME must be unset, or it wins over the timestamp file; the
        // monotonic clock stays real, or tokio's timers jump with the offset.
        let env = if self.layout.faketime {
            format!(
                "env -u FAKETIME LD_PRELOAD={FAKETIME_LIB} FAKETIME_TIMESTAMP_FILE={} \
                 FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 ",
                faketime_file(n.id())
            )
        } else {
            String::new()
        };
        format!(
            "cd {dir} && {{ {env}setsid {dir}/converge-node {args} >>{dir}/node.log 2>&1 </dev/null & echo $! > {dir}/node.pid; }}"
        )
    }

    fn signal(&self, id: &NodeId, sig: &str) -> Result<(), DbError> {
        let n = self.node(id)?;
        exec_ok(n.remote.as_ref(), &kill_script(id, sig))
            .map(|_| ())
            .map_err(|e| DbError::Signal {
                node: id.clone(),
                reason: e.to_string(),
            })
    }

    fn set(&self, id: &NodeId, s: NodeStatus) {
        self.state().status.insert(id.clone(), s);
    }
}

/// Sends `sig` to the node whose pid is in its pidfile, if any.
fn kill_script(id: &NodeId, sig: &str) -> String {
    let pid = format!("{}/node.pid", node_dir(id));
    format!("if [ -f {pid} ]; then kill -{sig} $(cat {pid}) 2>/dev/null; fi; true")
}

impl Db for RemoteDb {
    fn nodes(&self) -> &[NodeId] {
        &self.ids
    }

    fn client_addr(&self, node: &NodeId) -> Option<SocketAddr> {
        self.node(node).ok().map(|n| n.client_addr)
    }

    fn start(&self, id: &NodeId) -> Result<(), DbError> {
        let n = self.node(id)?;
        if self.state().torn_down {
            return Err(DbError::TornDown(id.clone()));
        }
        if self.status(id) != NodeStatus::Down {
            return Ok(());
        }
        exec_ok(n.remote.as_ref(), &self.start_script(n)).map_err(|e| DbError::Spawn {
            node: id.clone(),
            bin: self.layout.bin.clone(),
            source: std::io::Error::other(e),
        })?;
        self.set(id, NodeStatus::Running);
        Ok(())
    }

    fn kill(&self, id: &NodeId) -> Result<(), DbError> {
        self.signal(id, "KILL")?;
        self.set(id, NodeStatus::Down);
        Ok(())
    }

    fn pause(&self, id: &NodeId) -> Result<(), DbError> {
        self.signal(id, "STOP")?;
        self.set(id, NodeStatus::Paused);
        Ok(())
    }

    fn resume(&self, id: &NodeId) -> Result<(), DbError> {
        self.signal(id, "CONT")?;
        self.set(id, NodeStatus::Running);
        Ok(())
    }

    fn wipe(&self, id: &NodeId) -> Result<(), DbError> {
        let n = self.node(id)?;
        if self.status(id) != NodeStatus::Down {
            return Err(DbError::Wipe {
                node: id.clone(),
                source: std::io::Error::other("the node is still running; kill it first"),
            });
        }
        let dir = node_dir(id);
        exec_ok(
            n.remote.as_ref(),
            &format!("rm -rf {dir}/data && mkdir -p {dir}/data"),
        )
        .map(|_| ())
        .map_err(|e| DbError::Wipe {
            node: id.clone(),
            source: std::io::Error::other(e),
        })
    }

    fn status(&self, id: &NodeId) -> NodeStatus {
        self.state()
            .status
            .get(id)
            .cloned()
            .unwrap_or(NodeStatus::Down)
    }

    fn log_path(&self, node: &NodeId) -> Option<PathBuf> {
        self.node(node).ok().map(|n| n.local_log.clone())
    }

    /// Resumes and kills every node (unless leaving them running) and
    /// downloads the logs. Best effort on every host; the first error is
    /// returned.
    fn teardown(&self) -> Result<(), DbError> {
        self.state().torn_down = true;
        let remotes: Vec<Arc<dyn Remote>> = self
            .layout
            .nodes
            .iter()
            .map(|n| Arc::clone(&n.remote))
            .collect();
        let leave = self.layout.leave_running;
        let results = parallel(&remotes, |r| {
            let Some(n) = self
                .layout
                .nodes
                .iter()
                .find(|n| n.remote.host() == r.host())
            else {
                return Ok(());
            };
            let mut first_err = None;
            if !leave {
                let script = format!(
                    "{}; {}",
                    kill_script(n.id(), "CONT"),
                    kill_script(n.id(), "KILL")
                );
                if let Err(e) = exec_ok(r, &script) {
                    first_err.get_or_insert(e);
                }
            }
            if let Some(parent) = n.local_log.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if let Err(e) = r.download(&format!("{}/node.log", node_dir(n.id())), &n.local_log) {
                first_err.get_or_insert(e);
            }
            first_err.map_or(Ok(()), Err)
        });
        let mut state = self.state();
        if !leave {
            for id in &self.ids {
                state.status.insert(id.clone(), NodeStatus::Down);
            }
        }
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), |e| Err(DbError::Setup(format!("teardown: {e}"))))
    }
}

/// Quotes a path for the remote shell (re-exported for sibling backends).
pub fn quote(s: &str) -> String {
    shell_quote(s)
}

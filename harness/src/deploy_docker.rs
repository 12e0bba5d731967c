//! `--deploy docker`: a private network and one container per node on the
//! local Docker engine, driven through the same control layer as VMs —
//! `docker exec` (default) or SSH into the containers
//! (`--docker-control ssh`, with a key pair made for the run).
//!
//! Containers get NET_ADMIN (iptables partitions), `--init` (a reaper for
//! killed nodes) and a label with the harness's pid. Teardown removes the
//! run's containers and network unless `--leave-running`; a later run also
//! removes whatever a killed harness (pid no longer alive) left behind. The
//! image stays: it is the build cache (see [`crate::docker_image`]).

use crate::cluster::Cluster;
use crate::config::TestConfig;
use crate::control::{DockerExecRemote, Remote, SshOptions, SshRemote};
use crate::db::remote::RemoteDb;
use crate::db::{Db, DbError, NodeStatus};
use crate::deploy_remote::{RemoteHost, wire};
use crate::docker_image::{docker, ensure_image};
use crate::node_id::NodeId;
use crate::store::RunDir;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The label every container and network of converge's carries.
pub const PID_LABEL: &str = "converge.pid";

/// Fails with one line when no Docker engine answers.
pub fn check_engine() -> Result<(), String> {
    docker(&["version", "--format", "{{.Server.Version}}"])
        .map(|_| ())
        .map_err(|e| format!("--deploy docker needs a running Docker engine: {e}"))
}

/// The containers and network of one run; removed when dropped (unless
/// kept), so an error halfway through setup leaves nothing behind.
struct DockerResources {
    containers: Vec<String>,
    network: Option<String>,
    keep: bool,
}

impl Drop for DockerResources {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if !self.containers.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(self.containers.iter().map(String::as_str));
            if let Err(e) = docker(&args) {
                eprintln!("converge: teardown: removing containers: {e}");
            }
        }
        if let Some(n) = &self.network
            && let Err(e) = docker(&["network", "rm", n])
        {
            eprintln!("converge: teardown: removing network {n}: {e}");
        }
    }
}

/// A [`RemoteDb`] whose teardown also removes the containers.
struct DockerDb {
    inner: RemoteDb,
    resources: Mutex<Option<DockerResources>>,
}

impl Db for DockerDb {
    fn nodes(&self) -> &[NodeId] {
        self.inner.nodes()
    }
    fn client_addr(&self, node: &NodeId) -> Option<SocketAddr> {
        self.inner.client_addr(node)
    }
    fn start(&self, node: &NodeId) -> Result<(), DbError> {
        self.inner.start(node)
    }
    fn kill(&self, node: &NodeId) -> Result<(), DbError> {
        self.inner.kill(node)
    }
    fn pause(&self, node: &NodeId) -> Result<(), DbError> {
        self.inner.pause(node)
    }
    fn resume(&self, node: &NodeId) -> Result<(), DbError> {
        self.inner.resume(node)
    }
    fn wipe(&self, node: &NodeId) -> Result<(), DbError> {
        self.inner.wipe(node)
    }
    fn status(&self, node: &NodeId) -> NodeStatus {
        self.inner.status(node)
    }
    fn log_path(&self, node: &NodeId) -> Option<PathBuf> {
        self.inner.log_path(node)
    }
    fn teardown(&self) -> Result<(), DbError> {
        let r = self.inner.teardown();
        let taken = self.resources.lock().map(|mut g| g.take()).unwrap_or(None);
        drop(taken);
        r
    }
}

/// Removes containers and networks labelled with the pid of a harness that
/// is no longer running.
fn remove_leftovers() {
    let alive = |pid: &str| {
        pid.parse::<i32>()
            .is_ok_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok())
    };
    let filter = format!("label={PID_LABEL}");
    let fmt = format!("{{{{.ID}}}} {{{{.Label \"{PID_LABEL}\"}}}}");
    let dead = |out: Result<String, String>| -> Vec<String> {
        out.unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, pid)| !alive(pid))
            .map(|(id, _)| id.to_string())
            .collect()
    };
    for c in dead(docker(&["ps", "-a", "--filter", &filter, "--format", &fmt])) {
        let _ = docker(&["rm", "-f", &c]);
    }
    for n in dead(docker(&[
        "network", "ls", "--filter", &filter, "--format", &fmt,
    ])) {
        let _ = docker(&["network", "rm", &n]);
    }
}

/// Builds (or finds) the image, creates network and containers, and wires
/// the cluster through docker exec or SSH.
pub fn deploy_docker(cfg: &TestConfig, bin: &Path, run: &RunDir) -> Result<Cluster, String> {
    check_engine()?;
    let image = ensure_image(bin).map_err(|e| e.to_string())?;
    remove_leftovers();
    let pid = std::process::id().to_string();
    let label = format!("{PID_LABEL}={pid}");
    // Unique per run: pid plus the run directory's timestamp name.
    let stamp: String = run
        .root()
        .file_name()
        .map(|s| {
            s.to_string_lossy()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect()
        })
        .unwrap_or_default();
    let prefix = format!("converge-{pid}-{stamp}");
    let mut res = DockerResources {
        containers: Vec::new(),
        network: None,
        keep: cfg.deploy.leave_running,
    };
    docker(&["network", "create", "--label", &label, &prefix])
        .map_err(|e| format!("cannot create docker network {prefix}: {e}"))?;
    res.network = Some(prefix.clone());
    let ssh = match cfg.deploy.docker_control.as_str() {
        "exec" => false,
        "ssh" => true,
        other => {
            return Err(format!(
                "unknown docker control {other:?}; choose exec or ssh"
            ));
        }
    };
    let nodes = NodeId::cluster(cfg.test.nodes as usize);
    let mut names = Vec::new();
    for id in &nodes {
        let name = format!("{prefix}-{id}");
        docker(&[
            "run",
            "-d",
            "--init",
            "--cap-add",
            "NET_ADMIN",
            "--network",
            &prefix,
            "--name",
            &name,
            "--hostname",
            id.as_str(),
            "--label",
            &label,
            &image,
            "/usr/sbin/sshd",
            "-D",
            "-e",
        ])
        .map_err(|e| format!("cannot start container {name}: {e}"))?;
        res.containers.push(name.clone());
        names.push(name);
    }
    let mut ips = Vec::new();
    for name in &names {
        let ip = docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            name,
        ])
        .map_err(|e| format!("cannot inspect container {name}: {e}"))?;
        let ip: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("container {name} has no usable address ({:?})", ip.trim()))?;
        ips.push(ip);
    }
    let remotes: Vec<Arc<dyn Remote>> = if ssh {
        ssh_into(run, &names, &ips)?
    } else {
        names
            .iter()
            .map(|n| Arc::new(DockerExecRemote::new(n.clone())) as Arc<dyn Remote>)
            .collect()
    };
    let hosts: Vec<RemoteHost> = nodes
        .iter()
        .zip(remotes)
        .zip(&ips)
        .map(|((id, remote), ip)| RemoteHost {
            id: id.clone(),
            remote,
            ip: *ip,
        })
        .collect();
    // Latency proxies listen on the network's gateway: the host's address
    // on the containers' bridge (or --proxy-listen if it has none).
    let gateway = docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        &prefix,
    ])
    .ok()
    .and_then(|g| g.trim().parse::<IpAddr>().ok())
    .or(cfg.deploy.proxy_listen);
    let parts = wire(cfg, bin, run, &hosts, gateway)?;
    Ok(Cluster {
        db: Arc::new(DockerDb {
            inner: parts.db,
            resources: Mutex::new(Some(res)),
        }),
        net: parts.net,
        clock: parts.clock,
        admin: parts.admin,
    })
}

/// Makes a key pair for the run, authorizes it in every container, and
/// connects over SSH, recording the containers' host keys in the run's own
/// known_hosts (accept-new: the containers are brand new).
fn ssh_into(
    run: &RunDir,
    names: &[String],
    ips: &[IpAddr],
) -> Result<Vec<Arc<dyn Remote>>, String> {
    let dir = run.root().join("ssh");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let key = dir.join("id_ed25519");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "converge-run", "-f"])
        .arg(&key)
        .output()
        .map_err(|e| format!("cannot run ssh-keygen (install openssh-client): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let public = key.with_extension("pub");
    let public = public.to_string_lossy();
    for name in names {
        docker(&["cp", &public, &format!("{name}:/root/.ssh/authorized_keys")])
            .map_err(|e| format!("cannot authorize the run's key in {name}: {e}"))?;
    }
    let opts = SshOptions {
        user: "root".into(),
        port: 22,
        key,
        known_hosts: dir.join("known_hosts"),
        accept_new: true,
        connect_timeout: Duration::from_secs(20),
        op_timeout: Duration::from_secs(30),
    };
    let hosts: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
    // One at a time: accept-new rewrites the shared known_hosts file.
    let mut out = Vec::new();
    for h in &hosts {
        out.push(
            Arc::new(SshRemote::connect(h, opts.clone()).map_err(|e| e.to_string())?)
                as Arc<dyn Remote>,
        );
    }
    Ok(out)
}

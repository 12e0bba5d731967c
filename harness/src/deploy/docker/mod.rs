//! `--deploy docker`: a private network and one container per node on the
//! local Docker engine, driven through the same control layer as VMs —
//! `docker exec` (default) or SSH into the containers
//! (`--docker-control ssh`, with a key pair made for the run).
//!
//! Containers get NET_ADMIN (iptables partitions), `--init` (a reaper for
//! killed nodes) and a label with the harness's pid. Each network and
//! container goes onto the cluster's cleanup stack as it is created, so
//! teardown (or a failure halfway through setup) removes them, unless
//! `--leave-running`; a later run also removes whatever a killed harness
//! (pid no longer alive) left behind. The image stays: it is the build
//! cache (see [`image`]).

pub mod cli;
pub mod image;

use super::remote::{RemoteHost, RemoteWiring, wire};
use super::{Backend, DeployError, NodeBinary};
use crate::cluster::Cluster;
use crate::config::{DockerControl, DockerTarget, TestConfig};
use crate::control::{DockerExecRemote, Remote, SshOptions, SshRemote};
use crate::node_id::NodeId;
use crate::store::RunDir;
use crate::teardown::CleanupStack;
use cli::docker;
use image::ensure_image;
use std::net::IpAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// The label every container and network of converge's carries.
pub const PID_LABEL: &str = "converge.pid";

/// Fails with one line when no Docker engine answers.
pub fn check_engine() -> Result<(), DeployError> {
    docker(&["version", "--format", "{{.Server.Version}}"])
        .map(|_| ())
        .map_err(|e| {
            DeployError::Setup(format!(
                "--deploy docker needs a running Docker engine: {e}"
            ))
        })
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
    let dead = |out: Result<String, cli::DockerCliError>| -> Vec<String> {
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

pub struct DockerBackend {
    cfg: TestConfig,
    target: DockerTarget,
    bin: NodeBinary,
}

impl DockerBackend {
    pub fn new(cfg: TestConfig, target: DockerTarget) -> DockerBackend {
        DockerBackend {
            cfg,
            target,
            bin: NodeBinary::default(),
        }
    }
}

impl Backend for DockerBackend {
    fn prepare(&mut self) -> Result<(), DeployError> {
        self.bin.find(&self.cfg)
    }

    /// Builds (or finds) the image, creates network and containers, and
    /// wires the cluster through docker exec or SSH.
    fn bring_up(&mut self, run: &RunDir) -> Result<Cluster, DeployError> {
        let bin = self.bin.get(&self.cfg)?;
        let cfg = &self.cfg;
        check_engine()?;
        let image = ensure_image(&bin)?;
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
        let keep = cfg.deploy.leave_running;
        let cleanup = CleanupStack::new();
        docker(&["network", "create", "--label", &label, &prefix]).map_err(|e| {
            DeployError::Setup(format!("cannot create docker network {prefix}: {e}"))
        })?;
        if !keep {
            let network = prefix.clone();
            cleanup.push(format!("removing network {prefix}"), move || {
                docker(&["network", "rm", &network])?;
                Ok(())
            });
        }
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
            .map_err(|e| DeployError::Setup(format!("cannot start container {name}: {e}")))?;
            if !keep {
                let container = name.clone();
                cleanup.push(format!("removing container {name}"), move || {
                    docker(&["rm", "-f", &container])?;
                    Ok(())
                });
            }
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
            .map_err(|e| DeployError::Setup(format!("cannot inspect container {name}: {e}")))?;
            let ip: IpAddr = ip.trim().parse().map_err(|_| {
                DeployError::Setup(format!(
                    "container {name} has no usable address ({:?})",
                    ip.trim()
                ))
            })?;
            ips.push(ip);
        }
        let remotes: Vec<Arc<dyn Remote>> = match self.target.control {
            DockerControl::Ssh => ssh_into(run, &names, &ips)?,
            DockerControl::Exec => names
                .iter()
                .map(|n| Arc::new(DockerExecRemote::new(n.clone())) as Arc<dyn Remote>)
                .collect(),
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
        // Latency proxies listen on the network's gateway: the host's
        // address on the containers' bridge (or --proxy-listen if it has
        // none).
        let gateway = docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
            &prefix,
        ])
        .ok()
        .and_then(|g| g.trim().parse::<IpAddr>().ok())
        .or(self.target.proxy_listen);
        wire(RemoteWiring {
            cfg,
            bin: &bin,
            run,
            hosts,
            clock: self.target.clock,
            proxy_bind: gateway,
            cleanup,
        })
    }
}

/// Makes a key pair for the run, authorizes it in every container, and
/// connects over SSH, recording the containers' host keys in the run's own
/// known_hosts (accept-new: the containers are brand new).
fn ssh_into(
    run: &RunDir,
    names: &[String],
    ips: &[IpAddr],
) -> Result<Vec<Arc<dyn Remote>>, DeployError> {
    let setup = DeployError::Setup;
    let dir = run.root().join("ssh");
    std::fs::create_dir_all(&dir)
        .map_err(|e| setup(format!("cannot create {}: {e}", dir.display())))?;
    let key = dir.join("id_ed25519");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "converge-run", "-f"])
        .arg(&key)
        .output()
        .map_err(|e| {
            setup(format!(
                "cannot run ssh-keygen (install openssh-client): {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(setup(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let public = key.with_extension("pub");
    let public = public.to_string_lossy();
    for name in names {
        docker(&["cp", &public, &format!("{name}:/root/.ssh/authorized_keys")])
            .map_err(|e| setup(format!("cannot authorize the run's key in {name}: {e}")))?;
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
        out.push(Arc::new(SshRemote::connect(h, opts.clone())?) as Arc<dyn Remote>);
    }
    Ok(out)
}

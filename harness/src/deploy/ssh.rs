//! `--deploy ssh`: one node per host of `--hosts`, VMs or anything else
//! that runs sshd, reached with the operator's key and known_hosts.

use super::remote::{RemoteHost, RemoteWiring, wire};
use super::{Backend, DeployError, NodeBinary};
use crate::cluster::Cluster;
use crate::config::{SshTarget, TestConfig};
use crate::control::{Remote, SshOptions, SshRemote};
use crate::node_id::NodeId;
use crate::store::RunDir;
use crate::teardown::CleanupStack;
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub struct SshBackend {
    cfg: TestConfig,
    target: SshTarget,
    bin: NodeBinary,
}

impl SshBackend {
    pub fn new(cfg: TestConfig, target: SshTarget) -> SshBackend {
        SshBackend {
            cfg,
            target,
            bin: NodeBinary::default(),
        }
    }
}

impl Backend for SshBackend {
    fn prepare(&mut self) -> Result<(), DeployError> {
        self.bin.find(&self.cfg)
    }

    fn bring_up(&mut self, run: &RunDir) -> Result<Cluster, DeployError> {
        let bin = self.bin.get(&self.cfg)?;
        let opts = ssh_options(&self.target)?;
        let names = &self.target.hosts;
        let remotes = connect_all(names, &opts)?;
        let mut hosts = Vec::new();
        for (i, (name, remote)) in names.iter().zip(remotes).enumerate() {
            let ip = (name.as_str(), opts.port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
                .ok_or_else(|| {
                    DeployError::Setup(format!("host {name}: cannot resolve its address"))
                })?;
            hosts.push(RemoteHost {
                id: NodeId::nth(i),
                remote,
                ip,
            });
        }
        wire(RemoteWiring {
            cfg: &self.cfg,
            bin: &bin,
            run,
            hosts,
            clock: self.target.clock,
            proxy_bind: self.target.proxy_listen,
            cleanup: CleanupStack::new(),
        })
    }
}

/// SSH settings from the target, with the usual defaults.
fn ssh_options(target: &SshTarget) -> Result<SshOptions, DeployError> {
    let setup = |msg: String| DeployError::Setup(msg);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let from_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
    let key = match &target.key {
        Some(k) => k.clone(),
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .filter_map(|k| from_home(&format!(".ssh/{k}")))
            .find(|p| p.exists())
            .ok_or_else(|| setup("no SSH key found in ~/.ssh; pass --ssh-key FILE".into()))?,
    };
    if !key.exists() {
        return Err(setup(format!("SSH key {} does not exist", key.display())));
    }
    let known_hosts = match &target.known_hosts {
        Some(k) => k.clone(),
        None => from_home(".ssh/known_hosts")
            .ok_or_else(|| setup("HOME is not set; pass --known-hosts FILE".into()))?,
    };
    Ok(SshOptions {
        user: target.user.clone(),
        port: target.port,
        key,
        known_hosts,
        accept_new: target.accept_new,
        connect_timeout: Duration::from_secs(20),
        op_timeout: Duration::from_secs(30),
    })
}

/// Connects to every host in parallel (errors name the host).
fn connect_all(names: &[String], opts: &SshOptions) -> Result<Vec<Arc<dyn Remote>>, DeployError> {
    let connect = |h: &String| {
        SshRemote::connect(h, opts.clone())
            .map(|r| Arc::new(r) as Arc<dyn Remote>)
            .map_err(DeployError::Host)
    };
    if opts.accept_new {
        // One at a time: accept-new rewrites the shared known_hosts file.
        return names.iter().map(connect).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = names.iter().map(|h| s.spawn(move || connect(h))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(DeployError::Setup("an SSH connect thread panicked".into()))
                })
            })
            .collect()
    })
}

//! `[deploy]`: where the nodes run, as a typed [`DeployTarget`] — local
//! processes, SSH hosts or Docker containers — so the deployment code never
//! matches strings and a setting of one backend cannot reach another.
//!
//! The file keeps its flat, documented shape (`kind = "ssh"`, `hosts`,
//! `ssh_user`, ...; docs/deploy.md): `DeployTable` (private) is that wire form, and
//! [`DeploySection`] converts from and to it, so stored `config.toml` files
//! of earlier runs still load and new ones read the same. Settings of the
//! backends not chosen are ignored, as they always were: one test file can
//! carry SSH settings and still be tried with `--deploy local`.
//!
//! The rules that span sections (packet loss needs a backend that drops
//! packets, one SSH host per node, ...) are in [`TestConfig::validate_deploy`]:
//! part of [`TestConfig::validate`], so a bad combination is refused before
//! anything starts, without reaching into deployment code.

use super::{ConfigError, TestConfig};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;

/// The `[deploy]` table, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DeployTable", into = "DeployTable")]
pub struct DeploySection {
    pub target: DeployTarget,
    /// The converge-node binary; found next to converge (or built) if absent.
    pub node_bin: Option<PathBuf>,
    /// First port of a fixed range; free ports below the ephemeral range (local) or 7000 (remote) if absent.
    pub base_port: Option<u16>,
    /// `--leave-running`: heal, but keep the nodes (and containers) up.
    pub leave_running: bool,
    /// `converge zoo`: the known-bad variant every node runs (`--zoo-bug`
    /// of a converge-node built with the `zoo` feature; docs/zoo.md).
    pub zoo_bug: Option<String>,
}

impl Default for DeploySection {
    fn default() -> Self {
        DeploySection {
            target: DeployTarget::Local,
            node_bin: None,
            base_port: None,
            leave_running: false,
            zoo_bug: None,
        }
    }
}

/// Where the nodes run.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployTarget {
    /// Processes on this machine, linked through the harness's proxies.
    Local,
    /// One node per host, reached over SSH.
    Ssh(SshTarget),
    /// One container per node on the local Docker engine.
    Docker(DockerTarget),
}

impl DeployTarget {
    /// The `kind` name, as in `--deploy KIND`.
    pub fn name(&self) -> &'static str {
        match self {
            DeployTarget::Local => "local",
            DeployTarget::Ssh(_) => "ssh",
            DeployTarget::Docker(_) => "docker",
        }
    }
}

/// `--deploy ssh`.
#[derive(Debug, Clone, PartialEq)]
pub struct SshTarget {
    /// One host per node, in node order.
    pub hosts: Vec<String>,
    pub user: String,
    /// The private key; the usual ones in ~/.ssh if absent.
    pub key: Option<PathBuf>,
    pub port: u16,
    /// Record unknown host keys instead of refusing them.
    pub accept_new: bool,
    /// ~/.ssh/known_hosts if absent.
    pub known_hosts: Option<PathBuf>,
    pub clock: RemoteClock,
    /// With latency: the harness's address, reachable from every host,
    /// where the internode proxies listen.
    pub proxy_listen: Option<IpAddr>,
}

/// `--deploy docker`.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerTarget {
    pub control: DockerControl,
    pub clock: RemoteClock,
    /// Where the latency proxies listen when the network has no gateway.
    pub proxy_listen: Option<IpAddr>,
}

/// How a remote backend shifts clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteClock {
    /// The node's `PUT /admin/clock`.
    Admin,
    /// libfaketime preloaded into the node.
    Faketime,
}

/// How the harness drives containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerControl {
    /// `docker exec`.
    Exec,
    /// SSH into each container with a key made for the run.
    Ssh,
}

impl RemoteClock {
    fn parse(text: &str) -> Result<RemoteClock, ConfigError> {
        match text {
            "admin" => Ok(RemoteClock::Admin),
            "faketime" => Ok(RemoteClock::Faketime),
            other => Err(ConfigError(format!(
                "unknown clock backend {other:?}; choose admin or faketime"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            RemoteClock::Admin => "admin",
            RemoteClock::Faketime => "faketime",
        }
    }
}

impl DockerControl {
    fn parse(text: &str) -> Result<DockerControl, ConfigError> {
        match text {
            "exec" => Ok(DockerControl::Exec),
            "ssh" => Ok(DockerControl::Ssh),
            other => Err(ConfigError(format!(
                "unknown docker control {other:?}; choose exec or ssh"
            ))),
        }
    }

    fn name(self) -> &'static str {
        match self {
            DockerControl::Exec => "exec",
            DockerControl::Ssh => "ssh",
        }
    }
}

/// `[deploy]` as written in a test file and in a run's `config.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DeployTable {
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_bin: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_port: Option<u16>,
    leave_running: bool,
    hosts: Vec<String>,
    ssh_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh_key: Option<PathBuf>,
    ssh_port: u16,
    ssh_accept_new: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    known_hosts: Option<PathBuf>,
    clock: String,
    docker_control: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy_listen: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zoo_bug: Option<String>,
}

impl Default for DeployTable {
    fn default() -> Self {
        DeployTable {
            kind: "local".into(),
            node_bin: None,
            base_port: None,
            leave_running: false,
            hosts: Vec::new(),
            ssh_user: "root".into(),
            ssh_key: None,
            ssh_port: 22,
            ssh_accept_new: false,
            known_hosts: None,
            clock: RemoteClock::Admin.name().into(),
            docker_control: DockerControl::Exec.name().into(),
            proxy_listen: None,
            zoo_bug: None,
        }
    }
}

impl TryFrom<DeployTable> for DeploySection {
    type Error = ConfigError;

    fn try_from(t: DeployTable) -> Result<Self, ConfigError> {
        let target = match t.kind.as_str() {
            "local" => DeployTarget::Local,
            "ssh" => DeployTarget::Ssh(SshTarget {
                hosts: t.hosts,
                user: t.ssh_user,
                key: t.ssh_key,
                port: t.ssh_port,
                accept_new: t.ssh_accept_new,
                known_hosts: t.known_hosts,
                clock: RemoteClock::parse(&t.clock)?,
                proxy_listen: t.proxy_listen,
            }),
            "docker" => DeployTarget::Docker(DockerTarget {
                control: DockerControl::parse(&t.docker_control)?,
                clock: RemoteClock::parse(&t.clock)?,
                proxy_listen: t.proxy_listen,
            }),
            other => {
                return Err(ConfigError(format!(
                    "unknown deploy backend {other:?}; choose local, docker or ssh"
                )));
            }
        };
        Ok(DeploySection {
            target,
            node_bin: t.node_bin,
            base_port: t.base_port,
            leave_running: t.leave_running,
            zoo_bug: t.zoo_bug,
        })
    }
}

impl From<DeploySection> for DeployTable {
    fn from(d: DeploySection) -> Self {
        let mut t = DeployTable {
            kind: d.target.name().into(),
            node_bin: d.node_bin,
            base_port: d.base_port,
            leave_running: d.leave_running,
            zoo_bug: d.zoo_bug,
            ..DeployTable::default()
        };
        match d.target {
            DeployTarget::Local => {}
            DeployTarget::Ssh(s) => {
                t.hosts = s.hosts;
                t.ssh_user = s.user;
                t.ssh_key = s.key;
                t.ssh_port = s.port;
                t.ssh_accept_new = s.accept_new;
                t.known_hosts = s.known_hosts;
                t.clock = s.clock.name().into();
                t.proxy_listen = s.proxy_listen;
            }
            DeployTarget::Docker(d) => {
                t.docker_control = d.control.name().into();
                t.clock = d.clock.name().into();
                t.proxy_listen = d.proxy_listen;
            }
        }
        t
    }
}

impl TestConfig {
    /// The rules between `[deploy]` and the other sections (one error line
    /// naming the setting).
    pub fn validate_deploy(&self) -> Result<(), ConfigError> {
        let lossy = self.nemesis.loss > 0.0;
        let latency = !self.nemesis.latency.get().is_zero();
        let err = |msg: &str| Err(ConfigError(msg.into()));
        match &self.deploy.target {
            DeployTarget::Local if lossy => {
                return err(
                    "--loss is not supported with --deploy local: its proxies carry TCP streams, where a lost packet is only a retransmit; use --deploy docker or ssh",
                );
            }
            DeployTarget::Local => return Ok(()),
            DeployTarget::Docker(_) => {}
            DeployTarget::Ssh(s) => {
                if s.hosts.len() != self.test.nodes as usize {
                    return Err(ConfigError(format!(
                        "--deploy ssh needs one host per node: --hosts lists {} but nodes is {}; pass --nodes {}",
                        s.hosts.len(),
                        self.test.nodes,
                        s.hosts.len()
                    )));
                }
                if latency && s.proxy_listen.is_none() {
                    return err(
                        "--latency with --deploy ssh needs --proxy-listen ADDR: an address of this machine every host can reach",
                    );
                }
            }
        }
        if lossy && latency {
            return err(
                "--loss cannot be combined with --latency on remote hosts: latency detours links through the harness's proxies, which iptables loss rules would not match",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DeploySection, toml::de::Error> {
        toml::from_str::<DeploySection>(text)
    }

    fn refusal(text: &str) -> String {
        parse(text).map_or_else(|e| e.message().to_string(), |d| format!("accepted: {d:?}"))
    }

    #[test]
    fn the_flat_table_becomes_the_chosen_backend_only() {
        let d = parse("kind = \"docker\"\nclock = \"faketime\"\nssh_user = \"admin\"\n").unwrap();
        assert_eq!(
            d.target,
            DeployTarget::Docker(DockerTarget {
                control: DockerControl::Exec,
                clock: RemoteClock::Faketime,
                proxy_listen: None,
            })
        );
        assert_eq!(parse("").unwrap(), DeploySection::default());
    }

    #[test]
    fn unknown_names_are_refused_by_name() {
        assert!(refusal("kind = \"k8s\"").contains("unknown deploy backend \"k8s\""));
        assert!(
            refusal("kind = \"ssh\"\nclock = \"ntp\"").contains("unknown clock backend \"ntp\"")
        );
        assert!(
            refusal("kind = \"docker\"\ndocker_control = \"api\"")
                .contains("unknown docker control")
        );
        // A local run ignores the remote backends' settings, as before.
        assert!(parse("kind = \"local\"\nclock = \"ntp\"").is_ok());
    }

    #[test]
    fn written_and_read_back_it_is_the_same() {
        let text = "kind = \"ssh\"\nhosts = [\"a\", \"b\"]\nssh_user = \"admin\"\nssh_port = 2222\nssh_accept_new = true\nclock = \"faketime\"\nproxy_listen = \"10.0.0.1\"\n";
        let d = parse(text).unwrap();
        let written = toml::to_string(&d).unwrap();
        assert_eq!(parse(&written).unwrap(), d);
        // The default section writes exactly what earlier versions wrote.
        let default = toml::to_string(&DeploySection::default()).unwrap();
        assert_eq!(
            default,
            "kind = \"local\"\nleave_running = false\nhosts = []\nssh_user = \"root\"\nssh_port = 22\nssh_accept_new = false\nclock = \"admin\"\ndocker_control = \"exec\"\n"
        );
    }
}

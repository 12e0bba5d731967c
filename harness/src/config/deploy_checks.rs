//! The checks of `[deploy]` (and the fault settings only some backends
//! support) that need no I/O: part of [`TestConfig::validate`], so a bad
//! combination is refused before anything starts. They live with the config
//! rather than with the backends so that validating a config does not reach
//! into deployment code.

use super::{ConfigError, TestConfig};

impl TestConfig {
    /// The deploy settings' checks (one error line naming the setting).
    pub fn validate_deploy(&self) -> Result<(), ConfigError> {
        deploy_rules(self).map_err(ConfigError)
    }

    /// Whether the test asked for the libfaketime clock on remote hosts.
    pub fn wants_faketime(&self) -> Result<bool, ConfigError> {
        faketime(self).map_err(ConfigError)
    }
}

fn deploy_rules(cfg: &TestConfig) -> Result<(), String> {
    let d = &cfg.deploy;
    let lossy = cfg.nemesis.loss > 0.0;
    match d.kind.as_str() {
        "local" if lossy => {
            return Err(
                "--loss is not supported with --deploy local: its proxies carry TCP streams, where a lost packet is only a retransmit; use --deploy docker or ssh"
                    .into(),
            );
        }
        "local" => return Ok(()),
        "docker" => {
            if !matches!(d.docker_control.as_str(), "exec" | "ssh") {
                return Err(format!(
                    "unknown docker control {:?}; choose exec or ssh",
                    d.docker_control
                ));
            }
        }
        "ssh" => {
            if d.hosts.len() != cfg.test.nodes as usize {
                return Err(format!(
                    "--deploy ssh needs one host per node: --hosts lists {} but nodes is {}; pass --nodes {}",
                    d.hosts.len(),
                    cfg.test.nodes,
                    d.hosts.len()
                ));
            }
        }
        other => {
            return Err(format!(
                "unknown deploy backend {other:?}; choose local, docker or ssh"
            ));
        }
    }
    faketime(cfg)?;
    if lossy && !cfg.nemesis.latency.get().is_zero() {
        return Err(
            "--loss cannot be combined with --latency on remote hosts: latency detours links through the harness's proxies, which iptables loss rules would not match"
                .into(),
        );
    }
    if d.kind == "ssh" && d.proxy_listen.is_none() && !cfg.nemesis.latency.get().is_zero() {
        return Err(
            "--latency with --deploy ssh needs --proxy-listen ADDR: an address of this machine every host can reach"
                .into(),
        );
    }
    Ok(())
}

fn faketime(cfg: &TestConfig) -> Result<bool, String> {
    match cfg.deploy.clock.as_str() {
        "admin" => Ok(false),
        "faketime" => Ok(true),
        other => Err(format!(
            "unknown clock backend {other:?}; choose admin or faketime"
        )),
    }
}

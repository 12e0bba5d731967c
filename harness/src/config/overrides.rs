//! What a caller overrides in a test's config: the same settings as the
//! config file's fields, each `None` (or false) when not given. The command
//! line fills one from its flags; a sweep fills one per cell; a library user
//! builds one directly. [`super::load`] lays it over the file and the
//! defaults.

use super::duration::HumanDuration;
use std::path::PathBuf;

/// Settings that win over the config file and the defaults.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// TOML file holding a whole test (`[test]`, `[workload]`, `[nemesis]`, `[checks]`,
    /// `[deploy]`, `[node]`); flags override it.
    pub config: Option<PathBuf>,
    /// Test name, the store subdirectory [test.name; default: config file stem or "default"].
    pub name: Option<String>,
    /// Number of nodes [test.nodes; 5].
    pub nodes: Option<u32>,
    /// Replicas per key [test.rf; 3].
    pub rf: Option<u32>,
    /// Read quorum [test.r; 2].
    pub r: Option<u32>,
    /// Write quorum [test.w; 2].
    pub w: Option<u32>,
    /// Conflict resolution, "lww" or "dvv" [test.conflict; lww].
    pub conflict: Option<String>,
    /// How long clients run, e.g. 60s [test.time_limit; 60s].
    pub time_limit: Option<HumanDuration>,
    /// Client processes, each bound to one node [test.concurrency; 10].
    pub concurrency: Option<u32>,
    /// Total target ops/s across clients; unlimited if absent [test.rate].
    pub rate: Option<f64>,
    /// Seed for the op stream and the fault schedule; random if absent [test.seed].
    pub seed: Option<u64>,
    /// Give up waiting for replicas to agree after this long [test.convergence_timeout; 20s].
    pub convergence_timeout: Option<HumanDuration>,
    /// Per-op client timeout [test.op_timeout; 2s].
    pub op_timeout: Option<HumanDuration>,
    /// Where runs are stored [test.store; ./store].
    pub store: Option<PathBuf>,
    /// Also write a JUnit XML report here [test.junit].
    pub junit: Option<PathBuf>,
    /// Workload, "register" or "causal" [workload.kind; register].
    pub workload: Option<String>,
    /// Number of distinct keys [workload.keys; 1000].
    pub keys: Option<u64>,
    /// Zipf exponent of key popularity [workload.zipf; 1.0].
    pub zipf: Option<f64>,
    /// Op mix, e.g. read=50,write=40,delete=10 [workload.mix].
    pub mix: Option<String>,
    /// Faults: comma list of partition,clock,crash,pause,wipe,link, or none [nemesis.faults; partition,clock,crash,wipe,link].
    pub nemesis: Option<String>,
    /// Time between fault starts and ends [nemesis.interval; 5s].
    pub nemesis_interval: Option<HumanDuration>,
    /// Largest clock offset the clock nemesis applies [nemesis.clock_skew; 5s].
    pub clock_skew: Option<HumanDuration>,
    /// Most nodes down (crashed, paused, wiped) at once [nemesis.max_down; 1].
    pub max_down: Option<u32>,
    /// Added one-way latency on every internode link [nemesis.latency; 0ms].
    pub latency: Option<HumanDuration>,
    /// Remote deploys: probability (0..1) of dropping each internode packet [nemesis.loss; 0].
    pub loss: Option<f64>,
    /// Deploy backend: local, docker or ssh (docs/deploy.md) [deploy.kind; local].
    pub deploy: Option<String>,
    /// --deploy ssh: the hosts, one node each, e.g. n1,n2,n3 [deploy.hosts].
    pub hosts: Option<String>,
    /// --deploy ssh: login user; not root needs passwordless sudo [deploy.ssh_user; root].
    pub ssh_user: Option<String>,
    /// --deploy ssh: private key [deploy.ssh_key; ~/.ssh/id_ed25519, id_ecdsa or id_rsa].
    pub ssh_key: Option<PathBuf>,
    /// --deploy ssh: port [deploy.ssh_port; 22].
    pub ssh_port: Option<u16>,
    /// --deploy ssh: record unknown host keys in known_hosts instead of refusing [deploy.ssh_accept_new].
    pub ssh_accept_new: bool,
    /// --deploy ssh: known_hosts file [deploy.known_hosts; ~/.ssh/known_hosts].
    pub known_hosts: Option<PathBuf>,
    /// Remote deploys: clock faults via "admin" (/admin/clock) or "faketime" (libfaketime) [deploy.clock; admin].
    pub clock: Option<String>,
    /// --deploy docker: drive containers by "exec" (docker exec) or "ssh" [deploy.docker_control; exec].
    pub docker_control: Option<String>,
    /// --deploy ssh with --latency: the harness's address (reachable from every host) where internode proxies listen [deploy.proxy_listen].
    pub proxy_listen: Option<std::net::IpAddr>,
    /// The converge-node binary [deploy.node_bin; next to converge, or built].
    pub node_bin: Option<PathBuf>,
    /// First port of a fixed range (2 per node); free ports below the ephemeral range if absent [deploy.base_port].
    pub base_port: Option<u16>,
    /// Leave the nodes running (healed) after the run [deploy.leave_running].
    pub leave_running: bool,
}

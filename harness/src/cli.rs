//! The command line: `converge run [FLAGS]`, `converge check RUN_DIR`,
//! `converge report RUN_DIR`, `converge serve`, `converge sweep` and
//! `converge zoo`.
//!
//! Every `run` flag is optional here because it may also come from the
//! `--config` file; `converge::config::load` merges the two (flags win) and
//! fills in defaults. Help texts name the default and the file key.

use clap::{Args, Parser, Subcommand};
use converge::config::Overrides;
use converge::config::duration::HumanDuration;
use converge::sweep::SweepOptions;
use converge::sweep::merge::MergeOptions;
use converge::zoo::ZooOptions;
use std::path::PathBuf;

/// converge: prove (or disprove) that a Dynamo-style replicated store converges.
#[derive(Debug, Parser)]
#[command(name = "converge", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a cluster, run a workload while injecting faults, check the history.
    ///
    /// Exit codes: 0 valid, 1 anomalies found, 2 harness error, bad input or
    /// unknown verdict.
    Run(Box<RunArgs>),
    /// Re-run the checkers on a stored run directory (also a partial one).
    ///
    /// Exit codes as for `run`.
    Check(CheckArgs),
    /// Run a matrix of configurations × seeds and compare them side by side.
    ///
    /// Resumable: runs already in the store are not repeated. Exit codes: 0
    /// finished and some configuration is safe, 1 none is, 2 error or
    /// interrupted. With --shard: 0 every run of the slice valid, 1 a run
    /// found anomalies, 2 a run undecided, an error, or interrupted.
    Sweep(SweepArgs),
    /// Measure how often the test catches each known-bad variant of the node
    /// (docs/zoo.md): N seeds per bug and for the clean node.
    ///
    /// Resumable like a sweep. Exit codes: 0 finished with no false alarm, 1
    /// a clean-node run was not valid, 2 error or interrupted.
    Zoo(ZooArgs),
    /// Gather the stores of a sweep's slices (--shard) into one store and
    /// rebuild the sweep report, refusing runs that do not belong to the
    /// matrix and naming the runs still missing.
    ///
    /// Exit codes as for `sweep`; 2 also when a run was refused.
    Merge(MergeArgs),
    /// Render a stored run's report.html (and refresh the store's index.html).
    ///
    /// Exit codes: 0 written, 2 not a run directory or not writable.
    Report(ReportArgs),
    /// Serve the store over HTTP for browsing: index, reports, raw files.
    ///
    /// Runs until Ctrl-C. Exit codes: 0 stopped, 2 cannot listen or no store.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A run directory (e.g. store/latest).
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The store to serve.
    #[arg(long, value_name = "DIR", default_value = "store")]
    pub store: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, Default, Clone, Args)]
pub struct RunArgs {
    /// TOML file holding a whole test ([test], [workload], [nemesis], [checks],
    /// [deploy], [node]); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Test name, the store subdirectory [test.name; default: config file stem or "default"].
    #[arg(long)]
    pub name: Option<String>,
    /// Number of nodes [test.nodes; 5].
    #[arg(long)]
    pub nodes: Option<u32>,
    /// Replicas per key [test.rf; 3].
    #[arg(long)]
    pub rf: Option<u32>,
    /// Read quorum [test.r; 2].
    #[arg(long)]
    pub r: Option<u32>,
    /// Write quorum [test.w; 2].
    #[arg(long)]
    pub w: Option<u32>,
    /// Conflict resolution, "lww" or "dvv" [test.conflict; lww].
    #[arg(long)]
    pub conflict: Option<String>,
    /// How long clients run, e.g. 60s [test.time_limit; 60s].
    #[arg(long, value_name = "DURATION")]
    pub time_limit: Option<HumanDuration>,
    /// Client processes, each bound to one node [test.concurrency; 10].
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Total target ops/s across clients; unlimited if absent [test.rate].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seed for the op stream and the fault schedule; random if absent [test.seed].
    /// With --seeds: the base the fleet's seeds are drawn from.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run a fleet: this test over N seeds drawn from --seed, resumable like a
    /// sweep (docs/scale.md). Exit codes: 0 every run valid, 1 a run found
    /// anomalies, 2 a run undecided or an error.
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    /// With --seeds: only slice I of N of the seeds (I from 0); needs --seed,
    /// so every slice draws the same seeds.
    #[arg(long, value_name = "I/N", requires_all = ["seeds", "seed"])]
    pub shard: Option<converge::sweep::shard::Shard>,
    /// Give up waiting for replicas to agree after this long [test.convergence_timeout; 20s].
    #[arg(long, value_name = "DURATION")]
    pub convergence_timeout: Option<HumanDuration>,
    /// Per-op client timeout [test.op_timeout; 2s].
    #[arg(long, value_name = "DURATION")]
    pub op_timeout: Option<HumanDuration>,
    /// Where runs are stored [test.store; ./store].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Also write a JUnit XML report here [test.junit].
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Workload, "register" or "causal" [workload.kind; register].
    #[arg(long)]
    pub workload: Option<String>,
    /// Number of distinct keys [workload.keys; 1000].
    #[arg(long)]
    pub keys: Option<u64>,
    /// Zipf exponent of key popularity [workload.zipf; 1.0].
    #[arg(long)]
    pub zipf: Option<f64>,
    /// Op mix, e.g. read=50,write=40,delete=10 [workload.mix].
    #[arg(long)]
    pub mix: Option<String>,
    /// Faults: comma list of partition,clock,crash,pause,wipe,link, or none [nemesis.faults; partition,clock,crash,wipe,link].
    #[arg(long, value_name = "LIST")]
    pub nemesis: Option<String>,
    /// Time between fault starts and ends [nemesis.interval; 5s].
    #[arg(long, value_name = "DURATION")]
    pub nemesis_interval: Option<HumanDuration>,
    /// Largest clock offset the clock nemesis applies [nemesis.clock_skew; 5s].
    #[arg(long, value_name = "DURATION")]
    pub clock_skew: Option<HumanDuration>,
    /// Most nodes down (crashed, paused, wiped) at once [nemesis.max_down; 1].
    #[arg(long)]
    pub max_down: Option<u32>,
    /// Added one-way latency on every internode link [nemesis.latency; 0ms].
    #[arg(long, value_name = "DURATION")]
    pub latency: Option<HumanDuration>,
    /// Remote deploys: probability (0..1) of dropping each internode packet [nemesis.loss; 0].
    #[arg(long, value_name = "P")]
    pub loss: Option<f64>,
    /// Deploy backend: local, docker or ssh (docs/deploy.md) [deploy.kind; local].
    #[arg(long)]
    pub deploy: Option<String>,
    /// --deploy ssh: the hosts, one node each, e.g. n1,n2,n3 [deploy.hosts].
    #[arg(long, value_name = "LIST")]
    pub hosts: Option<String>,
    /// --deploy ssh: login user; not root needs passwordless sudo [deploy.ssh_user; root].
    #[arg(long)]
    pub ssh_user: Option<String>,
    /// --deploy ssh: private key [deploy.ssh_key; ~/.ssh/id_ed25519, id_ecdsa or id_rsa].
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,
    /// --deploy ssh: port [deploy.ssh_port; 22].
    #[arg(long)]
    pub ssh_port: Option<u16>,
    /// --deploy ssh: record unknown host keys in known_hosts instead of refusing [deploy.ssh_accept_new].
    #[arg(long)]
    pub ssh_accept_new: bool,
    /// --deploy ssh: known_hosts file [deploy.known_hosts; ~/.ssh/known_hosts].
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Remote deploys: clock faults via "admin" (/admin/clock) or "faketime" (libfaketime) [deploy.clock; admin].
    #[arg(long)]
    pub clock: Option<String>,
    /// --deploy docker: drive containers by "exec" (docker exec) or "ssh" [deploy.docker_control; exec].
    #[arg(long)]
    pub docker_control: Option<String>,
    /// --deploy ssh with --latency: the harness's address (reachable from every host) where internode proxies listen [deploy.proxy_listen].
    #[arg(long, value_name = "ADDR")]
    pub proxy_listen: Option<std::net::IpAddr>,
    /// The converge-node binary [deploy.node_bin; next to converge, or built].
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// First port of a fixed range (2 per node); free ports below the ephemeral range if absent [deploy.base_port].
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Leave the nodes running (healed) after the run [deploy.leave_running].
    #[arg(long)]
    pub leave_running: bool,
}

impl From<&RunArgs> for Overrides {
    fn from(a: &RunArgs) -> Overrides {
        Overrides {
            config: a.config.clone(),
            name: a.name.clone(),
            nodes: a.nodes,
            rf: a.rf,
            r: a.r,
            w: a.w,
            conflict: a.conflict.clone(),
            time_limit: a.time_limit,
            concurrency: a.concurrency,
            rate: a.rate,
            seed: a.seed,
            convergence_timeout: a.convergence_timeout,
            op_timeout: a.op_timeout,
            store: a.store.clone(),
            junit: a.junit.clone(),
            workload: a.workload.clone(),
            keys: a.keys,
            zipf: a.zipf,
            mix: a.mix.clone(),
            nemesis: a.nemesis.clone(),
            nemesis_interval: a.nemesis_interval,
            clock_skew: a.clock_skew,
            max_down: a.max_down,
            latency: a.latency,
            loss: a.loss,
            deploy: a.deploy.clone(),
            hosts: a.hosts.clone(),
            ssh_user: a.ssh_user.clone(),
            ssh_key: a.ssh_key.clone(),
            ssh_port: a.ssh_port,
            ssh_accept_new: a.ssh_accept_new,
            known_hosts: a.known_hosts.clone(),
            clock: a.clock.clone(),
            docker_control: a.docker_control.clone(),
            proxy_listen: a.proxy_listen,
            node_bin: a.node_bin.clone(),
            base_port: a.base_port,
            leave_running: a.leave_running,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// A run directory (e.g. store/latest).
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// The conflict mode to judge by (lww or dvv). Needed for a run
    /// directory without config.toml, where it cannot be read; overrides
    /// the stored one otherwise.
    #[arg(long, value_name = "MODE")]
    pub conflict: Option<String>,
}

/// `converge sweep` flags.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The matrix file: a base test plus axes of field values and seeds
    /// (format: harness/src/sweep/matrix.rs, example:
    /// harness/examples/sweeps/).
    #[arg(long, value_name = "FILE")]
    pub matrix: PathBuf,
    /// Where runs and the sweep report are stored [the base test's
    /// test.store; ./store].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// The converge-node binary [the base test's deploy.node_bin; next to
    /// converge, or built]. Refused when an axis sets deploy.node_bin.
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Only list the cells and which runs are already in the store.
    #[arg(long)]
    pub plan: bool,
    /// Run only slice I of N of the cell x seed list (I from 0, as
    /// JOB_COMPLETION_INDEX); no sweep report: gather the slices' stores
    /// with `converge merge` (docs/scale.md).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<converge::sweep::shard::Shard>,
    /// Run nothing: rebuild the sweep report from the runs the store holds
    /// and name the ones still missing.
    #[arg(long, conflicts_with = "shard")]
    pub report_only: bool,
    /// Also write a JUnit XML report here: one test case per cell x seed
    /// (of the slice, with --shard).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

impl From<&SweepArgs> for SweepOptions {
    fn from(a: &SweepArgs) -> SweepOptions {
        SweepOptions {
            matrix: a.matrix.clone(),
            store: a.store.clone(),
            node_bin: a.node_bin.clone(),
            plan: a.plan,
            shard: a.shard,
            report_only: a.report_only,
        }
    }
}

/// `converge zoo` flags.
#[derive(Debug, Clone, Args)]
pub struct ZooArgs {
    /// Bugs to run, comma-separated [every bug the zoo build knows].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub bugs: Option<Vec<String>>,
    /// Seeds per bug, and for the clean node.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub seeds: u32,
    /// Draws the seeds [derived from --name, so a rerun resumes].
    #[arg(long, value_name = "N")]
    pub seed_base: Option<u64>,
    /// The test every run uses [the default test of `converge run`].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Overrides the test's time limit, e.g. 20s.
    #[arg(long, value_name = "DURATION")]
    pub time_limit: Option<HumanDuration>,
    /// The zoo's name: its report goes to STORE/zoos/NAME/.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub name: String,
    /// Where runs and the zoo report are stored [the test's test.store; ./store].
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// The clean converge-node [next to converge, or built].
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// A converge-node built with `--features zoo` [built into target/zoo/].
    #[arg(long, value_name = "PATH")]
    pub zoo_node_bin: Option<PathBuf>,
    /// Only list the runs and which are already in the store.
    #[arg(long)]
    pub plan: bool,
}

impl From<&ZooArgs> for ZooOptions {
    fn from(a: &ZooArgs) -> ZooOptions {
        ZooOptions {
            name: a.name.clone(),
            bugs: a.bugs.clone(),
            seeds: a.seeds,
            seed_base: a.seed_base,
            config: a.config.clone(),
            time_limit: a.time_limit.map(|d| d.to_string()),
            store: a.store.clone(),
            node_bin: a.node_bin.clone(),
            zoo_node_bin: a.zoo_node_bin.clone(),
            plan: a.plan,
        }
    }
}

/// `converge merge` flags.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The sweep's matrix file.
    #[arg(long, value_name = "FILE")]
    pub matrix: PathBuf,
    /// The store the runs are gathered into and the report written to.
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    /// As for `converge sweep --node-bin`.
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Also write a JUnit XML report here: one test case per cell x seed,
    /// a missing run as an error.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// The slices' stores.
    #[arg(value_name = "STORE", required = true)]
    pub sources: Vec<PathBuf>,
}

impl From<&MergeArgs> for MergeOptions {
    fn from(a: &MergeArgs) -> MergeOptions {
        MergeOptions {
            matrix: a.matrix.clone(),
            into: a.into.clone(),
            sources: a.sources.clone(),
            node_bin: a.node_bin.clone(),
        }
    }
}

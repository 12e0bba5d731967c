//! `converge run`: the phases of one test.
//!
//! 1. preflight (binary, ports) and the run directory;
//! 2. deploy and wait for every node's `/health`;
//! 3. run the clients for the time limit while the nemesis follows its
//!    seeded schedule, history and metrics streaming to the store;
//! 4. heal everything (network, clocks, paused and crashed nodes), stop the
//!    clients;
//! 5. wait for convergence, polling dumps with no client reads, and save the
//!    final state;
//! 6. tear down, run every checker, write results.json (and JUnit).
//!
//! The [`TeardownGuard`] is created as soon as a process may exist, so every
//! exit from this function — error, panic or the future being dropped on
//! Ctrl-C — heals and stops the cluster.

use crate::clients::{ClientProcess, ClientStats, SharedRate};
use crate::cluster::Cluster;
use crate::cluster::TeardownGuard;
use crate::config::TestConfig;
use crate::db::NodeStatus;
use crate::deploy;
use crate::history_writer::HistoryWriter;
use crate::nemesis::runner::Nemesis;
use crate::nemesis::schedule::{self, ScheduleParams};
use crate::store::RunDir;
use crate::teardown::AbortOnDrop;
use checkers::Results;
use checkers::results_file::{OpCounts, RunMeta, RunResults, Timings};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// How a run can fail to produce a verdict. All map to exit code 2; each
/// says what failed in one line.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input found before anything started.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Workload(#[from] workloads::WorkloadError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Deploying, or starting the nodes.
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    #[error(transparent)]
    History(#[from] crate::history_writer::HistoryError),
    #[error(transparent)]
    Results(#[from] checkers::results_file::ResultsFileError),
    #[error(transparent)]
    Check(#[from] checkers::CheckError),
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        what: &'static str,
        #[source]
        source: toml::ser::Error,
    },
    /// Writing one of the run directory's files.
    #[error("cannot {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Something else broke while the cluster existed.
    #[error("{0}")]
    Harness(String),
}

impl RunError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
        let what = what.into();
        move |source| RunError::Io { what, source }
    }
}

/// A finished run.
pub struct RunOutcome {
    pub run_dir: RunDir,
    pub results: RunResults,
}

/// Where the run directory is, as soon as it exists (for the Ctrl-C message).
pub type RunDirSlot = Arc<std::sync::Mutex<Option<std::path::PathBuf>>>;

pub async fn run(cfg: TestConfig, dir_slot: RunDirSlot) -> Result<RunOutcome, RunError> {
    let wall_start = chrono::Utc::now();
    let t0 = Instant::now();
    let mut backend = deploy::backend(&cfg);
    backend.prepare()?;
    let workload = workloads::Workload::new(cfg.workload_config()?)?;
    let check_cfg = cfg.check_config()?;
    let run_dir = RunDir::create(&cfg.test.store, &cfg.test.name)?;
    if let Ok(mut slot) = dir_slot.lock() {
        *slot = Some(run_dir.root().to_path_buf());
    }
    write_configs(&cfg, &run_dir)?;
    eprintln!(
        "converge: test {} seed {} -> {}",
        cfg.test.name,
        cfg.test.seed,
        run_dir.root().display()
    );

    let cluster = deploy::bring_up(backend, &run_dir).await?;
    let guard = TeardownGuard::new(Arc::clone(&cluster));
    deploy::start_all(&cluster).await?;
    let setup_s = t0.elapsed().as_secs_f64();

    // Time zero of the history.
    let test_start = Instant::now();
    let history = HistoryWriter::create(&run_dir.history(), test_start.into_std())
        .map_err(RunError::io("create the history"))?;
    let _flusher = AbortOnDrop::new(history.spawn_flusher());
    let clock_fn = {
        let h = Arc::clone(&history);
        Arc::new(move || h.now()) as Arc<dyn Fn() -> u64 + Send + Sync>
    };
    let _metrics = AbortOnDrop::new(
        crate::metrics::spawn_sampler(
            &run_dir.metrics(),
            cluster.admin.clone(),
            Arc::clone(&clock_fn),
        )
        .map_err(RunError::io("create metrics.jsonl"))?,
    );

    let time_limit = cfg.test.time_limit.get();
    let plan = schedule::plan(
        cfg.test.seed,
        &ScheduleParams {
            faults: cfg.nemesis.faults.clone(),
            nodes: cluster.nodes().to_vec(),
            time_limit,
            interval: cfg.nemesis.interval.get(),
            clock_skew: cfg.nemesis.clock_skew.get(),
            max_down: cfg.nemesis.max_down as usize,
            wipe_gap: cfg.wipe_gap(),
            link_cut: cfg.link_cut(),
        },
    );
    let nemesis = Nemesis::new(Arc::clone(&cluster), Arc::clone(&history));
    let mut nemesis_task =
        AbortOnDrop::new(tokio::spawn(Arc::clone(&nemesis).run(plan, test_start)));

    let stats = Arc::new(ClientStats::default());
    let mut clients = start_clients(&cfg, &cluster, &workload, &history, &stats, test_start)?;
    let (bar, progress) = {
        let n = Arc::clone(&nemesis);
        crate::output::progress::spawn(
            Arc::clone(&stats),
            time_limit,
            Arc::new(move || n.active_summary()),
        )
    };
    let _progress = AbortOnDrop::new(progress);

    for c in &mut clients {
        let _ = c.join().await;
    }
    let _ = nemesis_task.join().await;
    let workload_s = test_start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // Heal everything, then wait for agreement with no client reads.
    let heal_started = Instant::now();
    nemesis.stop_all().await;
    let mut problems = nemesis.problems();
    problems.extend(final_heal(&cluster).await);
    let healed_at = history.now();
    let heal_s = heal_started.elapsed().as_secs_f64();
    history.flush()?;

    let conv_started = Instant::now();
    let convergence = crate::convergence::wait(
        &cluster,
        cfg.test.rf as usize,
        cfg.test.convergence_timeout.get(),
        healed_at,
        || history.now(),
    )
    .await;
    crate::convergence::save(&run_dir.final_state(), &convergence)
        .map_err(RunError::io("write the final state"))?;
    let convergence_s = conv_started.elapsed().as_secs_f64();
    drop(_metrics);
    problems.extend(guard.finish());
    if cfg.deploy.leave_running {
        let addrs: Vec<String> = cluster
            .nodes()
            .iter()
            .filter_map(|n| cluster.db.client_addr(n).map(|a| format!("{n}=http://{a}")))
            .collect();
        eprintln!(
            "converge: nodes left running (healed), as asked: {}",
            addrs.join(" ")
        );
    }

    let check_started = Instant::now();
    let results = crate::check::check_dir(&run_dir, &check_cfg)?;
    let meta = RunMeta {
        name: cfg.test.name.clone(),
        seed: cfg.test.seed,
        reproduce: reproduce_command(&run_dir),
        checked_by: "converge run".into(),
        started_at: wall_start.to_rfc3339(),
        timings: Timings {
            setup_s,
            workload_s,
            heal_s,
            convergence_s,
            check_s: check_started.elapsed().as_secs_f64(),
        },
        ops: OpCounts {
            ok: stats.ok.load(Ordering::Relaxed),
            info: stats.info.load(Ordering::Relaxed),
            fail: stats.fail.load(Ordering::Relaxed),
        },
        problems,
        config: serde_json::to_value(&cfg).unwrap_or_default(),
    };
    let results = finish_results(&run_dir, results, meta)?;
    Ok(RunOutcome { run_dir, results })
}

/// The reproduce command: the stored config holds every setting and the seed.
fn reproduce_command(run_dir: &RunDir) -> String {
    format!("converge run --config {}", run_dir.config().display())
}

fn finish_results(
    run_dir: &RunDir,
    results: Results,
    meta: RunMeta,
) -> Result<RunResults, RunError> {
    let r = RunResults { results, run: meta };
    checkers::results_file::write(&run_dir.results(), &r)?;
    Ok(r)
}

fn write_configs(cfg: &TestConfig, run_dir: &RunDir) -> Result<(), RunError> {
    let serialize = |what: &'static str| move |source| RunError::Serialize { what, source };
    let text = toml::to_string(cfg).map_err(serialize("the config"))?;
    std::fs::write(run_dir.config(), text).map_err(RunError::io(format!(
        "write {}",
        run_dir.config().display()
    )))?;
    let node = toml::to_string(&cfg.node_config()).map_err(serialize("[node]"))?;
    std::fs::write(run_dir.node_config(), node).map_err(RunError::io(format!(
        "write {}",
        run_dir.node_config().display()
    )))
}

fn start_clients(
    cfg: &TestConfig,
    cluster: &Cluster,
    workload: &workloads::Workload,
    history: &Arc<HistoryWriter>,
    stats: &Arc<ClientStats>,
    test_start: Instant,
) -> Result<Vec<AbortOnDrop<()>>, RunError> {
    let rate = match cfg.test.rate {
        Some(r) => Some(Arc::new(SharedRate::new(workloads::RateLimiter::new(r)?))),
        None => None,
    };
    let nodes = cluster.nodes();
    let mut out = Vec::new();
    for p in 0..cfg.test.concurrency {
        let node = &nodes[p as usize % nodes.len()];
        let addr = cluster
            .db
            .client_addr(node)
            .ok_or_else(|| RunError::Harness(format!("no address for node {node}")))?;
        let client = crate::client::NodeClient::new(node.clone(), addr, cfg.test.op_timeout.get())?;
        let process = ClientProcess {
            process: p,
            client,
            ops: workload.stream(p),
            history: Arc::clone(history),
            stats: Arc::clone(stats),
            rate: rate.clone(),
            test_start,
            stop_at: test_start + cfg.test.time_limit.get(),
        };
        out.push(AbortOnDrop::new(tokio::spawn(process.run())));
    }
    Ok(out)
}

/// After the schedule: undo every fault whatever the nemesis thinks is
/// active, restart nodes that are down, and wait for all to be healthy.
async fn final_heal(cluster: &Arc<Cluster>) -> Vec<String> {
    let c = Arc::clone(cluster);
    let mut problems = tokio::task::spawn_blocking(move || c.heal_everything())
        .await
        .unwrap_or_else(|e| vec![format!("heal task failed: {e}")]);
    for node in cluster.nodes() {
        if matches!(
            cluster.db.status(node),
            NodeStatus::Down | NodeStatus::Exited(_)
        ) && let Err(e) = cluster.start(node, Duration::from_secs(15)).await
        {
            problems.push(e.to_string());
        }
    }
    problems
}

//! Builds the effective [`TestConfig`] from the config file and the flags.
//!
//! Precedence, highest first: a flag; the file's `[test]`/`[workload]`/...
//! tables; for `rf`, `r`, `w` and `conflict` also the file's
//! `[node.cluster]` table (so a node config copied from production sets the
//! cluster shape by itself); then the defaults in [`super`].

use super::Overrides;
use super::{ConfigError, TestConfig};
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use toml::{Table, Value};

/// Loads, merges and validates. The seed is drawn here if none was given, so
/// the stored config always reproduces the run.
pub fn load(args: &Overrides) -> Result<TestConfig, ConfigError> {
    let mut table = match &args.config {
        Some(path) => read_file(path)?,
        None => Table::new(),
    };
    if let Some(path) = &args.config {
        let test = section(&mut table, "test")?;
        let stem = path.file_stem().and_then(|s| s.to_str());
        if let (None, Some(stem)) = (test.get("name"), stem) {
            test.insert("name".into(), stem.into());
        }
    }
    apply_flags(&mut table, args)?;
    let given = match table.remove("node") {
        None => Table::new(),
        Some(Value::Table(t)) => t,
        Some(other) => {
            return Err(ConfigError(format!(
                "[node] must be a table of the node's settings, got {}",
                other.type_str()
            )));
        }
    };
    let mut node = default_node_table();
    overlay(&mut node, given);
    table.insert("node".into(), Value::Table(node));
    inherit_cluster_settings(&mut table)?;
    if section(&mut table, "test")?.get("seed").is_none() {
        section(&mut table, "test")?.insert("seed".into(), Value::Integer(random_seed()));
    }
    let cfg: TestConfig = Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError(format!("config: {}", e.message().trim())))?;
    cfg.validate()?;
    Ok(cfg)
}

fn read_file(path: &Path) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    text.parse::<Table>().map_err(|e| {
        let msg = e.to_string().replace('\n', " ");
        ConfigError(format!(
            "config file {} is not valid TOML: {msg}",
            path.display()
        ))
    })
}

/// The table `name` of `root`, created if missing.
fn section<'a>(root: &'a mut Table, name: &str) -> Result<&'a mut Table, ConfigError> {
    match root
        .entry(name)
        .or_insert_with(|| Value::Table(Table::new()))
    {
        Value::Table(t) => Ok(t),
        _ => Err(ConfigError(format!("config: [{name}] must be a table"))),
    }
}

fn apply_flags(root: &mut Table, a: &Overrides) -> Result<(), ConfigError> {
    let mut set = |sec: &str, key: &str, v: Option<Value>| -> Result<(), ConfigError> {
        if let Some(v) = v {
            section(root, sec)?.insert(key.into(), v);
        }
        Ok(())
    };
    let int = |v: Option<u32>| v.map(|n| Value::Integer(n.into()));
    let text = |v: Option<&String>| v.map(|s| Value::String(s.clone()));
    let dur =
        |v: Option<crate::config::duration::HumanDuration>| v.map(|d| Value::String(d.to_string()));
    let path = |v: Option<&std::path::PathBuf>| v.map(|p| Value::String(p.display().to_string()));
    set("test", "name", text(a.name.as_ref()))?;
    set("test", "nodes", int(a.nodes))?;
    set("test", "rf", int(a.rf))?;
    set("test", "r", int(a.r))?;
    set("test", "w", int(a.w))?;
    set("test", "conflict", text(a.conflict.as_ref()))?;
    set("test", "time_limit", dur(a.time_limit))?;
    set("test", "concurrency", int(a.concurrency))?;
    set("test", "rate", a.rate.map(Value::Float))?;
    if let Some(seed) = a.seed {
        let seed = i64::try_from(seed)
            .map_err(|_| ConfigError(format!("seed {seed} is too large; use one below 2^63")))?;
        set("test", "seed", Some(Value::Integer(seed)))?;
    }
    set("test", "convergence_timeout", dur(a.convergence_timeout))?;
    set("test", "op_timeout", dur(a.op_timeout))?;
    set("test", "store", path(a.store.as_ref()))?;
    set("test", "junit", path(a.junit.as_ref()))?;
    set("workload", "kind", text(a.workload.as_ref()))?;
    if let Some(keys) = a.keys {
        let keys =
            i64::try_from(keys).map_err(|_| ConfigError(format!("keys ({keys}) is too large")))?;
        set("workload", "keys", Some(Value::Integer(keys)))?;
    }
    set("workload", "zipf", a.zipf.map(Value::Float))?;
    set("workload", "mix", text(a.mix.as_ref()))?;
    set("nemesis", "faults", text(a.nemesis.as_ref()))?;
    set("nemesis", "interval", dur(a.nemesis_interval))?;
    set("nemesis", "clock_skew", dur(a.clock_skew))?;
    set("nemesis", "max_down", int(a.max_down))?;
    set("nemesis", "latency", dur(a.latency))?;
    set("nemesis", "loss", a.loss.map(Value::Float))?;
    set("deploy", "kind", text(a.deploy.as_ref()))?;
    set("deploy", "node_bin", path(a.node_bin.as_ref()))?;
    set(
        "deploy",
        "base_port",
        a.base_port.map(|p| Value::Integer(p.into())),
    )?;
    if a.leave_running {
        set("deploy", "leave_running", Some(Value::Boolean(true)))?;
    }
    if let Some(hosts) = &a.hosts {
        let list = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| Value::String(h.to_string()))
            .collect();
        set("deploy", "hosts", Some(Value::Array(list)))?;
    }
    set("deploy", "ssh_user", text(a.ssh_user.as_ref()))?;
    set("deploy", "ssh_key", path(a.ssh_key.as_ref()))?;
    set(
        "deploy",
        "ssh_port",
        a.ssh_port.map(|p| Value::Integer(p.into())),
    )?;
    if a.ssh_accept_new {
        set("deploy", "ssh_accept_new", Some(Value::Boolean(true)))?;
    }
    set("deploy", "known_hosts", path(a.known_hosts.as_ref()))?;
    set("deploy", "clock", text(a.clock.as_ref()))?;
    set("deploy", "docker_control", text(a.docker_control.as_ref()))?;
    set(
        "deploy",
        "proxy_listen",
        a.proxy_listen.map(|ip| Value::String(ip.to_string())),
    )?;
    Ok(())
}

/// The harness's test defaults for the node, under whatever `[node]` the
/// test gives: production's settings scaled to a one-minute test whose
/// faults last 5 s, so every repair mechanism runs, and can fail, inside
/// the test (docs/BENCHMARKS.md, "Detection power", has the measurements):
/// - anti-entropy every 5 s (±1 s): the node's own 10 minutes never come
///   within a test;
/// - `hints.window = "3s"`, shorter than a fault: an outage outlasts the
///   hint window, the case anti-entropy exists for, so anti-entropy alone
///   repairs the keys nobody reads;
/// - `tombstones.gc_grace = "30s"`: tombstones of the first half's
///   deletes purge inside the test (the node's 10 days never purge one, so
///   a GC bug could not show), yet a replica must miss every anti-entropy
///   round with the tombstone's holders for half the test to resurrect a
///   value. 20 s was measured too short: crashes and partitions chained on
///   one replica for 22 s, and a deleted value came back on the clean
///   node (docs/BENCHMARKS.md, "Detection power").
/// - `storage.fsync = "always"`: a replica acknowledges only what is on its
///   disk, so a kill -9 tests crash recovery and loses nothing acknowledged.
///   Under the node's own `interval`, a crash takes the last ~100 ms of
///   acknowledged writes off its node, as a wipe takes everything: a write
///   acknowledged by two replicas just before one crashed, its other
///   holder wiped before repair, was lost on the clean node (two replicas'
///   data lost within one repair lag, which rf = 3, w = 2 does not promise
///   to survive). The group commit makes it cheap (docs/BENCHMARKS.md,
///   "converge-node: 3-node cluster throughput"). A test that sets
///   `[node.storage] fsync` tests its own, and the checkers then exempt
///   what a crash may lose.
///
/// The test's own fields are laid on top (`overlay`), so `[node.tombstones]`
/// alone keeps the rest, and `[node.anti_entropy] interval = "10m"` tests
/// production's.
pub fn default_node_table() -> Table {
    let table = |pairs: &[(&str, &str)]| -> Value {
        Value::Table(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
                .collect(),
        )
    };
    let mut node = Table::new();
    node.insert(
        "anti_entropy".into(),
        table(&[("interval", "5s"), ("jitter", "1s")]),
    );
    node.insert("hints".into(), table(&[("window", "3s")]));
    node.insert("tombstones".into(), table(&[("gc_grace", "30s")]));
    node.insert("storage".into(), table(&[("fsync", "always")]));
    node
}

/// Lays `top` over `base`: tables merge key by key, any other value
/// replaces.
fn overlay(base: &mut Table, top: Table) {
    for (k, v) in top {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(t)) => overlay(b, t),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `[node.cluster]` supplies rf/r/w/conflict that neither a flag nor `[test]` set.
fn inherit_cluster_settings(root: &mut Table) -> Result<(), ConfigError> {
    let from_node: Vec<(String, Value)> = match root.get("node").and_then(|n| n.get("cluster")) {
        Some(Value::Table(c)) => ["rf", "r", "w", "conflict"]
            .iter()
            .filter_map(|k| c.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect(),
        _ => return Ok(()),
    };
    let test = section(root, "test")?;
    for (k, v) in from_node {
        test.entry(k).or_insert(v);
    }
    Ok(())
}

/// A fresh seed below 2^53, so it survives TOML (i64) and JSON readers that
/// use doubles. Std's `RandomState` is randomly keyed per process, which is
/// all the entropy a seed needs.
fn random_seed() -> i64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::FaultKind;
    use std::io::Write;
    use std::time::Duration;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .prefix("t")
            .suffix(".toml")
            .tempfile()
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn args_with(f: &tempfile::NamedTempFile) -> Overrides {
        Overrides {
            config: Some(f.path().to_path_buf()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_match_the_issue() {
        let cfg = load(&Overrides::default()).unwrap();
        assert_eq!(
            (cfg.test.nodes, cfg.test.rf, cfg.test.r, cfg.test.w),
            (5, 3, 2, 2)
        );
        assert_eq!(cfg.test.time_limit.get().as_secs(), 60);
        assert_eq!(cfg.test.conflict, "lww");
        assert_eq!(
            cfg.nemesis.faults,
            [
                FaultKind::Partition,
                FaultKind::Clock,
                FaultKind::Crash,
                FaultKind::Wipe,
                FaultKind::Link
            ]
        );
        // 30 s gc_grace, half again for the tombstone scan, two intervals.
        assert_eq!(cfg.link_cut(), Duration::from_secs(55));
        // Production's repair settings on a one-minute scale.
        assert_eq!(cfg.node["hints"]["window"].as_str(), Some("3s"));
        assert_eq!(cfg.node["tombstones"]["gc_grace"].as_str(), Some("30s"));
    }

    #[test]
    fn lifecycle_rewrites_follow_the_node_gc_grace_unless_set() {
        let life = |cfg: &TestConfig| cfg.workload_config().unwrap().lifecycle;
        let cfg = load(&Overrides::default()).unwrap();
        let l = life(&cfg).unwrap();
        assert_eq!(l.every, Duration::from_millis(250));
        assert_eq!(l.delete_after, Duration::from_secs(5));
        assert_eq!(l.rewrite_after, Some(Duration::from_secs(30)));
        let f = file("[node.tombstones]\ngc_grace = \"2m\"\n");
        let l = life(&load(&args_with(&f)).unwrap()).unwrap();
        assert_eq!(l.rewrite_after, Some(Duration::from_secs(120)));
        let f = file("[workload]\nrewrite_after = \"7s\"\ndelete_after = \"1s\"\n");
        let l = life(&load(&args_with(&f)).unwrap()).unwrap();
        assert_eq!(l.rewrite_after, Some(Duration::from_secs(7)));
        assert_eq!(l.delete_after, Duration::from_secs(1));
        let f = file("[workload]\nlifecycle_every = \"0s\"\n");
        assert_eq!(life(&load(&args_with(&f)).unwrap()), None);
        let f = file("[workload]\ndelete_after = \"5\"\n");
        let err = load(&args_with(&f)).unwrap_err().to_string();
        assert!(
            err.contains("delete_after") || err.contains("\"5\""),
            "{err}"
        );
    }

    #[test]
    fn wipes_are_spaced_by_a_fault_and_two_anti_entropy_rounds() {
        let cfg = load(&Overrides::default()).unwrap();
        // 5 s nemesis interval + 2 × (5 s + 1 s jitter).
        assert_eq!(cfg.wipe_gap(), Some(Duration::from_secs(17)));
        let f = file("[node.anti_entropy]\ninterval = \"1m\"\njitter = \"0s\"\n");
        assert_eq!(
            load(&args_with(&f)).unwrap().wipe_gap(),
            Some(Duration::from_secs(125))
        );
        let f = file("[node.anti_entropy]\nmode = \"off\"\n");
        assert_eq!(load(&args_with(&f)).unwrap().wipe_gap(), None);
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let f = file("[test]\nnodes = 4\ntime_limit = \"9s\"\nseed = 7\n[workload]\nkeys = 12\n");
        let mut a = args_with(&f);
        a.time_limit = Some("3s".parse().unwrap());
        let cfg = load(&a).unwrap();
        assert_eq!(cfg.test.nodes, 4);
        assert_eq!(cfg.test.time_limit.to_string(), "3s");
        assert_eq!(cfg.test.seed, 7);
        assert_eq!(cfg.workload.keys, 12);
        // Named after the file when [test] has no name.
        let stem = f.path().file_stem().unwrap().to_str().unwrap();
        assert_eq!(cfg.test.name, stem);
    }

    #[test]
    fn node_table_passes_through_and_supplies_cluster_settings() {
        let f = file(
            "[node.cluster]\nrf = 2\nw = 1\nvnodes = 8\n[node.anti_entropy]\ninterval = \"1s\"\n",
        );
        let mut a = args_with(&f);
        a.r = Some(1);
        a.nodes = Some(3);
        let cfg = load(&a).unwrap();
        assert_eq!((cfg.test.rf, cfg.test.r, cfg.test.w), (2, 1, 1));
        let node = cfg.node_config();
        assert_eq!(node["cluster"]["vnodes"].as_integer(), Some(8));
        assert_eq!(node["cluster"]["r"].as_integer(), Some(1));
        assert_eq!(node["anti_entropy"]["interval"].as_str(), Some("1s"));
    }

    #[test]
    fn the_tests_node_fields_are_laid_over_the_harness_defaults() {
        let cfg = load(&Overrides::default()).unwrap();
        assert_eq!(cfg.node["anti_entropy"]["interval"].as_str(), Some("5s"));
        // Any [node] table keeps the defaults it does not mention.
        let f = file("[node.tombstones]\ngc_grace = \"1s\"\n");
        let cfg = load(&args_with(&f)).unwrap();
        assert_eq!(cfg.node["anti_entropy"]["interval"].as_str(), Some("5s"));
        assert_eq!(cfg.node["tombstones"]["gc_grace"].as_str(), Some("1s"));
        // A field the test sets wins, its siblings stay.
        let f = file("[node.anti_entropy]\ninterval = \"10m\"\nmode = \"off\"\n");
        let cfg = load(&args_with(&f)).unwrap();
        assert_eq!(cfg.node["anti_entropy"]["interval"].as_str(), Some("10m"));
        assert_eq!(cfg.node["anti_entropy"]["mode"].as_str(), Some("off"));
        assert_eq!(cfg.node["anti_entropy"]["jitter"].as_str(), Some("1s"));
        // The effective table is what the nodes get.
        assert_eq!(
            cfg.node_config()["anti_entropy"]["interval"].as_str(),
            Some("10m")
        );
    }

    #[test]
    fn the_checkers_learn_the_quorums_and_what_a_crash_may_lose() {
        let cfg = load(&Overrides::default()).unwrap().check_config().unwrap();
        assert_eq!(
            cfg.quorum,
            Some(checkers::Quorum { n: 3, r: 2, w: 2 }),
            "the default test's quorums"
        );
        // The test default: fsync before acknowledging, so a crash loses
        // nothing acknowledged.
        assert_eq!(cfg.crash_loss_window_ns, None);
        let f = file("[node.storage]\nfsync = \"interval\"\n");
        let cfg = load(&args_with(&f)).unwrap().check_config().unwrap();
        assert_eq!(cfg.crash_loss_window_ns, Some(1_200_000_000));
        let f = file("[node.storage]\nfsync = \"never\"\n");
        let cfg = load(&args_with(&f)).unwrap().check_config().unwrap();
        assert_eq!(cfg.crash_loss_window_ns, Some(u64::MAX));
    }

    #[test]
    fn a_node_value_that_is_not_a_table_is_one_clear_error() {
        let f = file("node = 3\n");
        let err = load(&args_with(&f)).unwrap_err();
        assert!(err.0.contains("[node] must be a table"), "{}", err.0);
    }

    #[test]
    fn a_random_seed_is_drawn_and_kept() {
        let a = load(&Overrides::default()).unwrap().test.seed;
        let b = load(&Overrides::default()).unwrap().test.seed;
        assert_ne!(a, b);
        assert!(a < 1 << 53);
    }

    fn load_err(a: &Overrides) -> String {
        load(a).unwrap_err().to_string()
    }

    #[test]
    fn bad_inputs_are_named() {
        let mut a = Overrides {
            nodes: Some(2),
            ..Default::default()
        };
        assert!(load_err(&a).contains("nodes (2) < rf (3)"));
        a = Overrides {
            r: Some(4),
            ..Default::default()
        };
        assert!(load_err(&a).contains("r (4)"));
        a = Overrides {
            w: Some(5),
            ..Default::default()
        };
        assert!(load_err(&a).contains("w (5)"));
        a = Overrides {
            nemesis: Some("partition,meteor".into()),
            ..Default::default()
        };
        assert!(load_err(&a).contains("unknown nemesis \"meteor\""));
        a = Overrides {
            workload: Some("queue".into()),
            ..Default::default()
        };
        assert!(load_err(&a).contains("queue"));
        a = Overrides {
            conflict: Some("crdt".into()),
            ..Default::default()
        };
        assert!(load_err(&a).contains("crdt"));
        a = Overrides {
            config: Some("/nonexistent/test.toml".into()),
            ..Default::default()
        };
        assert!(load_err(&a).contains("cannot read config file /nonexistent/test.toml"));
    }

    #[test]
    fn invalid_files_are_named() {
        let f = file("[test\nnodes = ");
        assert!(load_err(&args_with(&f)).contains("is not valid TOML"));
        let f = file("[test]\nnodez = 3\n");
        assert!(load_err(&args_with(&f)).contains("nodez"));
        let f = file("[test]\nnodes = \"five\"\n");
        assert!(load_err(&args_with(&f)).contains("config:"));
        let f = file("[nemesis]\nfaults = [\"crash\", \"flood\"]\n");
        assert!(load_err(&args_with(&f)).contains("\"flood\""));
    }
}

//! Whole runs against real `converge-node` clusters: the verdicts the issue
//! specifies for each fault scenario, the store's contents, seeds, and the
//! SIGINT path. Each run is a few seconds of workload on a small cluster.

use converge_tests::{
    Harness, cluster_lock, count, failing, node_pids_under, verdict, wait_with_deadline,
};
use serde_json::Value;
use std::time::Duration;

/// A test file: `[test]` basics plus scenario-specific tables.
fn config(extra: &str) -> String {
    format!(
        "[test]\nnodes = 3\nrf = 3\nr = 2\nw = 2\ntime_limit = \"6s\"\nconcurrency = 6\n\
         convergence_timeout = \"5s\"\nop_timeout = \"1s\"\n\n[workload]\nkeys = 20\n\n{extra}"
    )
}

fn run_config(h: &Harness, name: &str, text: &str, flags: &[&str]) -> converge_tests::Finished {
    let path = h.file(&format!("{name}.toml"), text);
    let mut args = vec!["run", "--config", path.to_str().unwrap()];
    args.extend_from_slice(flags);
    let out = h.run(&args);
    assert!(
        node_pids_under(h.dir.path()).is_empty(),
        "node processes outlived the harness"
    );
    out
}

fn nemesis_events(run_dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(run_dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["process"] == "nemesis")
        .map(|e| serde_json::json!([e["f"], e["fault"], e["detail"]]))
        .collect()
}

#[test]
fn partition_crash_and_pause_run_is_valid_and_converges() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(
        "[nemesis]\nfaults = [\"partition\", \"crash\", \"pause\"]\ninterval = \"1s\"\nmax_down = 1\n",
    )
    .replace("nodes = 3", "nodes = 5")
    .replace("convergence_timeout = \"5s\"", "convergence_timeout = \"20s\"");
    let out = run_config(&h, "default-like", &text, &[]);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(r["valid"], true);
    assert_eq!(verdict(&r, "convergence"), true);
}

/// Asserts `checker` failed with anomalies of `kind` (and says what else
/// failed if not).
fn assert_caught(r: &Value, checker: &str, kind: &str) {
    assert_eq!(verdict(r, checker), false, "failing: {:?}", failing(r));
    assert!(
        count(r, checker, kind) > 0,
        "no {kind}; failing: {:?}",
        failing(r)
    );
}

/// Asserts that exactly `checkers` failed.
fn assert_only_failing(r: &Value, checkers: &[&str]) {
    let bad: Vec<String> = failing(r);
    for c in r["checks"].as_array().unwrap() {
        let name = c["checker"].as_str().unwrap();
        assert_eq!(
            c["valid"] == false,
            checkers.contains(&name),
            "{name}: failing checkers are {bad:?}"
        );
    }
}

/// Read repair, hints and anti-entropy all off under several partitions:
/// replicas that missed writes are never repaired. That is one anomaly,
/// divergence, and nothing else: judging the union of replicas used to
/// report the same unrepaired replica as lost writes, lww siblings and
/// resurrections too. Any seed works: 1,000 keys (most of them cold, so a
/// write a replica missed is rarely overwritten later) and a partition
/// every other second always leave some replica without some write.
#[test]
fn repair_off_with_partitions_is_divergence_and_nothing_else() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(
        "[nemesis]\nfaults = [\"partition\"]\ninterval = \"1s\"\n\n\
         [node.read_repair]\nmode = \"off\"\n[node.hints]\nenabled = false\n[node.anti_entropy]\nmode = \"off\"\n",
    )
    .replace("keys = 20", "keys = 1000")
    .replace("time_limit = \"6s\"", "time_limit = \"8s\"");
    let out = run_config(&h, "no-repair", &text, &["--convergence-timeout", "2s"]);
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_caught(&r, "convergence", "divergent-key");
    assert_only_failing(&r, &["convergence"]);
    assert_eq!(count(&r, "lost-updates", "lww-siblings"), 0);
    assert_eq!(count(&r, "resurrection", "resurrected-value"), 0);
    assert!(out.stdout.contains("convergence") && out.stdout.contains("INVALID"));
    // The report states the cause the config supports, not a gc_grace story.
    let report = std::fs::read_to_string(h.latest().join("report.html")).unwrap();
    assert!(
        report.contains("not converged; anti-entropy, read repair and hints were off"),
        "the report names the repairs that were off"
    );
    assert!(
        !report.contains("gc_grace ("),
        "no tombstone story without evidence"
    );
}

/// gc_grace of 1 s with hints off (their replay would carry tombstones over
/// at the heal): a replica partitioned away keeps values that the others
/// delete and then purge; after the heal, anti-entropy (every 5 s: the
/// harness's test default stays although the test has a `[node]` table) and
/// read repair copy them back. The replicas converge — on deleted values.
/// Any seed works: five 2 s partitions, each cutting some replica off from
/// deletes unless it is a one-way cut of one node's own traffic (on 3
/// nodes that node still hears every delete; one shape in five, so all five
/// such: 1 seed in 3,125 — with two partitions a CI run drew two one-way
/// cuts and saw no resurrection), while a third of the ops are deletes; and
/// over 1,000 keys many a deleted key is not written again (on a hot key a
/// later write outranks the old value).
#[test]
fn short_gc_grace_resurrects_deleted_values_on_converged_replicas() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(
        "[nemesis]\nfaults = [\"partition\"]\ninterval = \"2s\"\n\n\
         [node.tombstones]\ngc_grace = \"1s\"\n[node.hints]\nenabled = false\n",
    )
    .replace(
        "keys = 20",
        "keys = 1000\nmix = \"read=30,write=40,delete=30\"",
    )
    .replace("time_limit = \"6s\"", "time_limit = \"20s\"")
    .replace(
        "convergence_timeout = \"5s\"",
        "convergence_timeout = \"20s\"",
    );
    let out = run_config(&h, "gc-grace", &text, &[]);
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(
        verdict(&r, "convergence"),
        true,
        "failing: {:?}",
        failing(&r)
    );
    assert_caught(&r, "resurrection", "resurrected-value");
    assert_only_failing(&r, &["resurrection"]);
    let node = std::fs::read_to_string(h.latest().join("node.toml")).unwrap();
    assert!(
        node.contains("interval = \"5s\""),
        "the test default for anti-entropy survives a [node] table:\n{node}"
    );
}

/// Clock skew overlapping partitions: within a connected group, hybrid
/// logical clocks and the node's pushed writes (a replica holding a newer
/// version makes the coordinator restamp above it) hide skew; across a
/// partition they cannot. With W=1 both
/// sides of a partition acknowledge writes; with R=3 (R + W > N) no read
/// answers until the heal, and then every read sees every replica: the
/// slow side's later writes lose to the fast side's earlier ones, and the
/// first read after the heal shows them gone. A loss needs a partition
/// whose sides both write while the side that wrote earlier has the faster
/// hybrid clock; a one-way cut of one node's own traffic loses nothing
/// unless that node's clock leads. A random seed found losses in 7 of 8
/// runs, so the lww test pins one (see there).
const SKEW: &str = "[nemesis]\nfaults = [\"partition\", \"clock\"]\ninterval = \"1s\"\nclock_skew = \"5s\"\n\n\
                    [node.cluster]\nrequest_timeout = \"200ms\"\n";

/// The skew scenario's test file: 10 keys, mostly writes, 20 s, R=3, W=1.
fn skew_config(workload: &str, test: &str) -> String {
    config(SKEW)
        .replace(
            "keys = 20",
            &format!("keys = 10\nmix = \"read=40,write=50,delete=10\"{workload}"),
        )
        .replace("r = 2\nw = 2", &format!("r = 3\nw = 1{test}"))
        .replace("time_limit = \"6s\"", "time_limit = \"20s\"")
        .replace(
            "convergence_timeout = \"5s\"",
            "convergence_timeout = \"10s\"",
        )
}

/// A skewed write across a partition loses to an earlier one, and a
/// skewed delete to an earlier write just the same: which of the two a
/// seed shows depends on which op the skew caught, so either counts, and
/// nothing else may fail.
#[test]
fn lww_under_clock_skew_loses_acknowledged_writes() {
    let _one = cluster_lock();
    let h = Harness::new();
    // Pinned: a random seed can miss (its partitions and clock bumps never
    // line up as described above SKEW), more often since the node pushes a
    // write above a newer version a replica holds, which leaves only the
    // losses across a partition. 6 random seeds all lost writes in release
    // runs (10 s, 50 keys); this one lost the most in the final state (9
    // lost-write, 7 lost-write-observed examples). At 20 s and 10 keys it
    // lost a write or a delete in 13 of 14 debug runs, all taken while a
    // zoo measurement loaded the same 2 cores.
    let out = run_config(
        &h,
        "lww-skew",
        &skew_config("", ""),
        &["--seed", "6196403325680381"],
    );
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    let lost = count(&r, "lost-updates", "lost-write")
        + count(&r, "lost-updates", "lost-write-observed")
        + count(&r, "resurrection", "resurrected-value")
        + count(&r, "resurrection", "resurrection-observed");
    assert!(lost > 0, "failing: {:?}", failing(&r));
    for c in r["checks"].as_array().unwrap() {
        let name = c["checker"].as_str().unwrap();
        assert!(
            c["valid"] != false || ["lost-updates", "resurrection"].contains(&name),
            "{name} failed: {:?}",
            failing(&r)
        );
    }
    assert_eq!(verdict(&r, "phantoms"), true, "failing: {:?}", failing(&r));
    assert_eq!(
        verdict(&r, "convergence"),
        true,
        "failing: {:?}",
        failing(&r)
    );
}

#[test]
fn dvv_with_the_causal_workload_under_the_same_skew_loses_nothing() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = skew_config("\nkind = \"causal\"", "\nconflict = \"dvv\"");
    let out = run_config(&h, "dvv-skew", &text, &[]);
    let r = h.results();
    assert_eq!(
        verdict(&r, "lost-updates"),
        true,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(count(&r, "lost-updates", "lost-write"), 0);
    assert_eq!(count(&r, "lost-updates", "lost-write-observed"), 0);
    assert_eq!(
        verdict(&r, "resurrection"),
        true,
        "failing: {:?}",
        failing(&r)
    );
}

#[test]
fn wipe_with_anti_entropy_converges_and_loses_nothing() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config("[nemesis]\nfaults = [\"wipe\"]\ninterval = \"1500ms\"\nmax_down = 1\n")
        .replace(
            "convergence_timeout = \"5s\"",
            "convergence_timeout = \"20s\"",
        );
    let out = run_config(&h, "wipe", &text, &[]);
    let r = h.results();
    assert_eq!(verdict(&r, "convergence"), true, "stdout:\n{}", out.stdout);
    assert_eq!(verdict(&r, "lost-updates"), true, "stdout:\n{}", out.stdout);
    // Reads that missed what a wipe took are exempt, not anomalies.
    assert_eq!(verdict(&r, "staleness"), true, "failing: {:?}", failing(&r));
}

/// The convergence wait ends on agreement only once no hint waits for
/// replay: a stale hint replayed after the final state was read could
/// bring a deleted value back unseen. Here anti-entropy runs every second
/// while hints replay at one a second, so replicas agree long before the
/// backlog the crashes left drains: the wait must time out naming the
/// hints still waiting, and the verdict is `unknown` with that cause, not
/// divergence and not valid. Any seed works: every crash leaves a second's
/// writes to its node as hints, hundreds against one replayed a second.
#[test]
fn agreement_with_hints_still_waiting_is_not_the_end_state() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(
        "[nemesis]\nfaults = [\"crash\"]\ninterval = \"1s\"\nmax_down = 1\n\n\
         [node.hints]\nwindow = \"1h\"\nreplay_rate = 1\n\n\
         [node.anti_entropy]\ninterval = \"1s\"\njitter = \"0s\"\n",
    )
    .replace(
        "convergence_timeout = \"5s\"",
        "convergence_timeout = \"8s\"",
    );
    let out = run_config(&h, "hints-waiting", &text, &[]);
    let r = h.results();
    let summary: Value = {
        let text = std::fs::read_to_string(h.latest().join("final-state.jsonl")).unwrap();
        serde_json::from_str(text.lines().next().unwrap()).unwrap()
    };
    assert_eq!(summary["converged"], true, "stdout:\n{}", out.stdout);
    let waiting = summary["hints_waiting"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(!waiting.is_empty(), "no hints waiting: {summary}");
    assert_eq!(
        verdict(&r, "convergence"),
        "unknown",
        "failing: {:?}",
        failing(&r)
    );
    let total: u64 = waiting.values().filter_map(Value::as_u64).sum();
    assert_eq!(count(&r, "convergence", "hints-not-drained"), total);
    assert_eq!(count(&r, "convergence", "divergent-key"), 0);
    assert_eq!(
        failing(&r).len(),
        1,
        "only convergence may be short of valid: {:?}",
        failing(&r)
    );
}

#[test]
fn a_run_stores_everything_and_the_same_seed_replays_the_same_faults() {
    let _one = cluster_lock();
    let h = Harness::new();
    let junit = h.dir.path().join("junit.xml");
    let text =
        config("[nemesis]\nfaults = [\"partition\", \"clock\", \"pause\"]\ninterval = \"500ms\"\n")
            .replace("time_limit = \"6s\"", "time_limit = \"3s\"");
    let flags = [
        "--seed",
        "7",
        "--junit",
        junit.to_str().unwrap(),
        "--convergence-timeout",
        "1s",
    ];
    let out = run_config(&h, "stored", &text, &flags);
    assert!(out.code == 0 || out.code == 1, "stderr:\n{}", out.stderr);
    let first = h.latest();
    for f in [
        "config.toml",
        "node.toml",
        "history.jsonl",
        "final-state.jsonl",
        "metrics.jsonl",
        "results.json",
        "report.html",
    ] {
        assert!(
            first.join(f).is_file(),
            "{f} missing from the run directory"
        );
    }
    assert!(first.join("nodes/n1/node.log").is_file());
    let index = std::fs::read_to_string(h.store().join("index.html")).unwrap();
    assert!(index.contains("stored"), "the store index lists the run");
    // `converge report` re-renders a stored run's report on demand.
    std::fs::remove_file(first.join("report.html")).unwrap();
    let rendered = h.run(&["report", first.to_str().unwrap()]);
    assert_eq!(rendered.code, 0, "stderr:\n{}", rendered.stderr);
    assert!(first.join("report.html").is_file());
    let r = h.results();
    assert_eq!(r["run"]["seed"], 7);
    assert!(
        r["run"]["reproduce"]
            .as_str()
            .unwrap()
            .contains("converge run --config")
    );
    assert!(
        std::fs::read_to_string(first.join("config.toml"))
            .unwrap()
            .contains("seed = 7")
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        xml.matches("<testcase").count(),
        r["checks"].as_array().unwrap().len()
    );
    assert!(
        std::fs::read_to_string(first.join("metrics.jsonl"))
            .unwrap()
            .contains("\"node\":\"n1\"")
    );

    std::thread::sleep(Duration::from_millis(10));
    run_config(&h, "stored", &text, &flags);
    let second = h.latest();
    assert_ne!(first, second);
    let (a, b) = (nemesis_events(&first), nemesis_events(&second));
    assert!(
        a.len() >= 4,
        "expected faults in a 3s run with a 500ms interval: {a:?}"
    );
    assert_eq!(a, b, "the same seed must inject the same faults");
}

#[test]
fn sigint_mid_run_stops_every_node_and_check_accepts_the_partial_run() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config("[nemesis]\nfaults = [\"pause\", \"crash\"]\ninterval = \"700ms\"\n")
        .replace("time_limit = \"6s\"", "time_limit = \"60s\"");
    let path = h.file("interrupted.toml", &text);
    let child = h
        .command(&["run", "--config", path.to_str().unwrap()])
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Wait until the run is under way: ops in the history, a node running.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let history = h.store().join("latest/history.jsonl");
        let ops = std::fs::read_to_string(&history).map_or(0, |t| t.lines().count());
        if ops > 50 && !node_pids_under(h.dir.path()).is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = wait_with_deadline(child, Duration::from_secs(30));
    assert_eq!(
        out.code, 2,
        "an interrupted run has no verdict; stderr:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
    assert!(
        node_pids_under(h.dir.path()).is_empty(),
        "nodes outlived the interrupted harness"
    );

    let run_dir = h.latest();
    let check = h.run(&["check", run_dir.to_str().unwrap()]);
    assert!(
        !check.stderr.contains("error"),
        "check rejected the partial run:\n{}",
        check.stderr
    );
    assert!(check.stdout.contains("lost-updates"), "{}", check.stdout);
    let r = h.results();
    assert_eq!(r["run"]["checked_by"], "converge check");
    // Without a final state, convergence cannot be judged, but the ops can.
    assert_eq!(verdict(&r, "convergence"), "unknown");
    assert!(r["checks"].as_array().unwrap().len() >= 5);
}

#[test]
fn a_harness_killed_with_sigkill_still_leaves_no_node_and_a_checkable_history() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config("[nemesis]\nfaults = [\"partition\"]\ninterval = \"700ms\"\n")
        .replace("time_limit = \"6s\"", "time_limit = \"60s\"");
    let path = h.file("killed.toml", &text);
    let mut child = h
        .command(&["run", "--config", path.to_str().unwrap()])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(h.store().join("latest/history.jsonl"))
        .map_or(0, |t| t.lines().count())
        < 50
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!node_pids_under(h.dir.path()).is_empty());
    // No handler runs, no guard drops: only the nodes' parent-death signal.
    child.kill().unwrap();
    child.wait().unwrap();
    let gone_by = std::time::Instant::now() + Duration::from_secs(10);
    while !node_pids_under(h.dir.path()).is_empty() {
        assert!(
            std::time::Instant::now() < gone_by,
            "nodes outlived a SIGKILLed harness"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let check = h.run(&["check", h.latest().to_str().unwrap()]);
    assert!(
        check.stdout.contains("lost-updates"),
        "{}\n{}",
        check.stdout,
        check.stderr
    );
}

//! Whole runs against real `converge-node` clusters: the verdicts the issue
//! specifies for each fault scenario, the store's contents, seeds, and the
//! SIGINT path. Each run is a few seconds of workload on a small cluster.

use converge_tests::{
    Harness, anomalies, cluster_lock, isolated_at_end, node_pids_under, seed_where, verdict,
    wait_with_deadline,
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

#[test]
fn repair_off_with_partitions_reports_divergence() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(
        "[nemesis]\nfaults = [\"partition\"]\ninterval = \"1500ms\"\n\n\
         [node.read_repair]\nmode = \"off\"\n[node.hints]\nenabled = false\n[node.anti_entropy]\nmode = \"off\"\n",
    );
    // A seed whose last partition, ending with the run, cuts one replica
    // off both ways: what it missed stays missing with every repair off.
    let end = Duration::from_secs(6);
    let seed = seed_where(
        vec![converge::nemesis::FaultKind::Partition],
        end,
        Duration::from_millis(1500),
        |faults| isolated_at_end(faults, end, true).is_some(),
    );
    let out = run_config(
        &h,
        "no-repair",
        &text,
        &["--convergence-timeout", "2s", "--seed", &seed],
    );
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(verdict(&r, "convergence"), false);
    assert!(anomalies(&r, "convergence") > 0);
    assert!(out.stdout.contains("convergence") && out.stdout.contains("INVALID"));
}

#[test]
fn short_gc_grace_with_a_partitioned_replica_resurrects_deleted_values() {
    let _one = cluster_lock();
    let h = Harness::new();
    // One partition, [2.5 s, 5 s], ending with the run: the isolated replica
    // keeps values the others delete and (gc_grace 1 s) purge. Hints are off,
    // or their replay would carry the tombstones over at the heal. W=1, so
    // the isolated replica's own writes are acknowledged: a value only an
    // indeterminate write put there could have been written at any time,
    // and its return would prove nothing.
    let text = config(
        "[nemesis]\nfaults = [\"partition\"]\ninterval = \"2500ms\"\n\n\
         [node.tombstones]\ngc_grace = \"1s\"\n[node.hints]\nenabled = false\n",
    )
    .replace("r = 2\nw = 2", "r = 1\nw = 1")
    .replace(
        "keys = 20",
        "keys = 8\nmix = \"read=20,write=30,delete=50\"",
    )
    .replace("time_limit = \"6s\"", "time_limit = \"5s\"");
    // A seed whose partition cuts one replica off both ways.
    let end = Duration::from_secs(5);
    let seed = seed_where(
        vec![converge::nemesis::FaultKind::Partition],
        end,
        Duration::from_millis(2500),
        |faults| isolated_at_end(faults, end, true).is_some(),
    );
    let out = run_config(&h, "gc-grace", &text, &["--seed", &seed]);
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(
        verdict(&r, "resurrection"),
        false,
        "stdout:\n{}",
        out.stdout
    );
    assert!(anomalies(&r, "resurrection") > 0);
}

/// Clock skew overlapping partitions: within a connected group, hybrid
/// logical clocks hide skew; across a partition they cannot. With W=1 the
/// isolated node acknowledges writes stamped by its fast clock, so after the
/// heal they beat writes the others acknowledged later (with W=2 its writes
/// would be indeterminate, and an indeterminate write may take effect at
/// any time, so losing to it proves nothing).
const SKEW: &str = "[nemesis]\nfaults = [\"partition\", \"clock\"]\ninterval = \"1s\"\nclock_skew = \"5s\"\n\n\
                    [node.cluster]\nrequest_timeout = \"200ms\"\n";

/// A seed whose run ends with one node cut off from the others (both ways:
/// replies over a one-way cut would carry its clock to them) while its
/// clock runs at least 2.5 s ahead of every other node's hybrid logical
/// clock: the scenario in which last-writer-wins must lose acknowledged
/// writes and dvv must keep them as siblings. Hybrid clocks never go back,
/// so an earlier fault's largest offset still leads until real time catches
/// up with it; the final bump must beat that too.
fn skew_seed() -> String {
    use converge::nemesis::FaultKind;
    use converge::nemesis::schedule::FaultAction;
    let end = Duration::from_secs(6);
    seed_where(
        vec![FaultKind::Partition, FaultKind::Clock],
        end,
        Duration::from_secs(1),
        |faults| {
            let Some(fast) = isolated_at_end(faults, end, true) else {
                return false;
            };
            let Some(last) = faults
                .iter()
                .find(|f| f.stop == end && matches!(f.action, FaultAction::ClockBump { .. }))
            else {
                return false;
            };
            let FaultAction::ClockBump { offsets_ms } = &last.action else {
                return false;
            };
            let ms = |d: Duration| d.as_millis() as i64;
            // How far ahead of real time the earlier faults left the clocks.
            let earlier_lead = faults
                .iter()
                .filter(|f| f.stop <= last.start)
                .filter_map(|f| {
                    match &f.action {
                        FaultAction::ClockBump { offsets_ms } => offsets_ms.values().max().copied(),
                        FaultAction::ClockStrobe {
                            offsets_ms: (a, b), ..
                        } => Some(*a.max(b)),
                        _ => None,
                    }
                    .map(|o| o + ms(f.stop) - ms(last.start))
                })
                .max()
                .unwrap_or(0)
                .max(0);
            let others = offsets_ms
                .iter()
                .filter(|(n, _)| **n != fast)
                .map(|(_, o)| *o)
                .max()
                .unwrap_or(0);
            offsets_ms[&fast] - others.max(earlier_lead) >= 2500
        },
    )
}

#[test]
fn lww_under_clock_skew_loses_acknowledged_writes() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(SKEW)
        .replace("r = 2\nw = 2", "r = 1\nw = 1")
        .replace("keys = 20", "keys = 5\nmix = \"read=30,write=70\"");
    let out = run_config(&h, "lww-skew", &text, &["--seed", &skew_seed()]);
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(verdict(&r, "lost-updates"), false);
    assert!(anomalies(&r, "lost-updates") > 0);
}

#[test]
fn dvv_with_the_causal_workload_under_the_same_skew_loses_nothing() {
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(SKEW)
        .replace(
            "keys = 20",
            "keys = 5\nkind = \"causal\"\nmix = \"read=30,write=70\"",
        )
        .replace("r = 2\nw = 2", "r = 1\nw = 1\nconflict = \"dvv\"");
    let out = run_config(&h, "dvv-skew", &text, &["--seed", &skew_seed()]);
    let r = h.results();
    assert_eq!(
        verdict(&r, "lost-updates"),
        true,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(anomalies(&r, "lost-updates"), 0);
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

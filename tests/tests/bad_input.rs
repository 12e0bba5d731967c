//! Bad input: one clear error line naming the problem, exit code 2, and no
//! node process or half-started cluster left behind.

use converge_tests::{Finished, Harness, node_pids_under};

/// Asserts exit 2 with `needle` in the error line, and that no node runs.
fn rejected(h: &Harness, args: &[&str], needle: &str) -> Finished {
    let out = h.run(args);
    assert_eq!(
        out.code, 2,
        "expected exit 2 for {args:?}; stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(needle),
        "expected {needle:?} in the error for {args:?}; stderr:\n{}",
        out.stderr
    );
    assert!(
        node_pids_under(h.dir.path()).is_empty(),
        "a node survived {args:?}"
    );
    out
}

#[test]
fn unknown_nemesis_is_named() {
    let h = Harness::new();
    let out = rejected(
        &h,
        &["run", "--nemesis", "partition,meteor"],
        "unknown nemesis \"meteor\"",
    );
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "one error line, got:\n{}",
        out.stderr
    );
    assert!(
        !h.store().exists(),
        "nothing may be stored for rejected input"
    );
}

#[test]
fn unknown_workload_is_named() {
    rejected(&Harness::new(), &["run", "--workload", "queue"], "queue");
}

#[test]
fn quorums_larger_than_rf_are_rejected() {
    let h = Harness::new();
    rejected(
        &h,
        &["run", "--rf", "3", "--r", "4"],
        "r (4) must be between 1 and rf (3)",
    );
    rejected(
        &h,
        &["run", "--rf", "3", "--w", "5"],
        "w (5) must be between 1 and rf (3)",
    );
}

#[test]
fn fewer_nodes_than_rf_is_rejected() {
    rejected(
        &Harness::new(),
        &["run", "--nodes", "2", "--rf", "3"],
        "nodes (2) < rf (3)",
    );
}

#[test]
fn unreadable_and_invalid_config_files_are_named() {
    let h = Harness::new();
    rejected(
        &h,
        &["run", "--config", "/nonexistent/chaos.toml"],
        "cannot read config file /nonexistent/chaos.toml",
    );
    let broken = h.file("broken.toml", "[test\nnodes = ");
    rejected(
        &h,
        &["run", "--config", broken.to_str().unwrap()],
        "is not valid TOML",
    );
    let typo = h.file("typo.toml", "[test]\nnodez = 3\n");
    rejected(&h, &["run", "--config", typo.to_str().unwrap()], "nodez");
}

#[test]
fn a_bad_duration_is_named() {
    rejected(
        &Harness::new(),
        &["run", "--time-limit", "30"],
        "missing unit",
    );
}

#[test]
fn a_missing_node_binary_is_named() {
    rejected(
        &Harness::new(),
        &["run", "--node-bin", "/nonexistent/converge-node"],
        "/nonexistent/converge-node does not exist",
    );
}

#[test]
fn a_port_in_use_is_named() {
    let h = Harness::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    rejected(
        &h,
        &["run", "--base-port", &port],
        &format!("port {port} on 127.0.0.1 is in use"),
    );
}

#[test]
fn an_unwritable_store_is_named() {
    let h = Harness::new();
    let file = h.file("not-a-dir", "");
    rejected(
        &h,
        &["run", "--store", file.to_str().unwrap()],
        "choose a writable directory with --store",
    );
}

#[test]
fn a_node_that_rejects_its_config_stops_the_whole_cluster() {
    let _one_cluster = converge_tests::cluster_lock();
    let h = Harness::new();
    let cfg = h.file("bad-node.toml", "[node.storage]\nfsync = \"sometimes\"\n");
    let out = rejected(
        &h,
        &["run", "--nodes", "3", "--config", cfg.to_str().unwrap()],
        "exited during startup",
    );
    assert!(
        out.stderr.contains("fsync"),
        "the node's own error line is shown:\n{}",
        out.stderr
    );
}

#[test]
fn check_of_a_directory_without_a_run_is_rejected() {
    let h = Harness::new();
    rejected(
        &h,
        &["check", h.dir.path().to_str().unwrap()],
        "no history.jsonl here",
    );
}

#[test]
fn report_of_a_directory_without_a_run_is_rejected() {
    let h = Harness::new();
    rejected(
        &h,
        &["report", h.dir.path().to_str().unwrap()],
        "no history.jsonl here",
    );
}

#[test]
fn serve_of_a_missing_store_is_rejected() {
    let h = Harness::new();
    let missing = h.dir.path().join("no-such-store");
    rejected(
        &h,
        &["serve", "--store", missing.to_str().unwrap()],
        "does not exist",
    );
}

#[test]
fn a_loss_outside_zero_to_one_is_named() {
    let h = Harness::new();
    rejected(
        &h,
        &["run", "--loss", "1.5"],
        "loss (1.5) must be a probability",
    );
    let toml = h.file("loss.toml", "[nemesis]\nloss = -0.25\n");
    rejected(
        &h,
        &["run", "--config", toml.to_str().unwrap()],
        "must be a probability between 0 and 1",
    );
    rejected(&h, &["run", "--loss", "lots"], "--loss");
}

#[test]
fn loss_on_the_local_backend_is_refused() {
    let h = Harness::new();
    rejected(
        &h,
        &["run", "--loss", "0.1"],
        "--loss is not supported with --deploy local",
    );
}

#[test]
fn check_of_a_run_without_config_toml_says_so_instead_of_assuming_lww() {
    let h = Harness::new();
    let run = h.dir.path().join("orphan-run");
    std::fs::create_dir_all(&run).unwrap();
    // A dvv history: under lww rules the two siblings would read as wrong.
    std::fs::write(
        run.join("history.jsonl"),
        concat!(
            r#"{"index":0,"process":0,"type":"invoke","f":"write","time":1,"key":"k","value":"0-0"}"#, "\n",
            r#"{"index":1,"process":0,"type":"ok","f":"write","time":2,"key":"k","value":"0-0"}"#, "\n",
            r#"{"index":2,"process":1,"type":"invoke","f":"write","time":3,"key":"k","value":"1-0"}"#, "\n",
            r#"{"index":3,"process":1,"type":"ok","f":"write","time":4,"key":"k","value":"1-0"}"#, "\n",
        ),
    )
    .unwrap();
    let dir = run.to_str().unwrap();
    let out = rejected(&h, &["check", dir], "has no config.toml");
    assert!(out.stderr.contains("--conflict"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    // Told the mode, it checks (no final state: the verdict is unknown, 2).
    let out = h.run(&["check", dir, "--conflict", "dvv"]);
    assert!(!out.stderr.contains("error"), "stderr:\n{}", out.stderr);
    assert!(out.stdout.contains("lost-updates"), "{}", out.stdout);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["checks"][1]["details"]["conflict"], "dvv");
    rejected(
        &h,
        &["check", dir, "--conflict", "crdt"],
        "unknown conflict mode",
    );
}

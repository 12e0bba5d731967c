//! Shared by the Docker-backed end-to-end tests: whether an engine runs
//! (skip with a reason, or fail loudly under CI), and the checks that a run
//! left nothing of converge's behind.

use converge_tests::{Finished, Harness, RUN_DEADLINE, wait_with_deadline};
use std::process::Command;

/// Whether to run: true with a Docker engine; false (after saying why)
/// without one; a panic without one when `CI=true`, since CI machines are
/// meant to have one and a silent skip there would hide a broken setup.
pub fn docker_or_skip(test: &str) -> bool {
    let engine = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    let why = match engine {
        Ok(o) if o.status.success() => return true,
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => format!("cannot run docker: {e}"),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: CI=true but no Docker engine is usable: {why}");
    }
    eprintln!("skipping {test}: no Docker engine ({why})");
    false
}

/// Runs `converge ARGS` and returns its output and pid (the containers'
/// label).
pub fn run_with_pid(h: &Harness, args: &[&str]) -> (Finished, u32) {
    let child = h.command(args).spawn().expect("spawn converge");
    let pid = child.id();
    (wait_with_deadline(child, RUN_DEADLINE), pid)
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(out.status.success(), "docker {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// No container or network of the run with harness `pid`, no node process
/// on this machine (container processes are visible from the host), and no
/// converge chain in the host's iptables.
pub fn assert_nothing_left(pid: u32) {
    let label = format!("label=converge.pid={pid}");
    let containers = docker_lines(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]);
    assert!(containers.is_empty(), "containers left: {containers:?}");
    let networks = docker_lines(&["network", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    assert!(networks.is_empty(), "networks left: {networks:?}");
    let nodes: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("/var/lib/converge/"))
        .collect();
    assert!(nodes.is_empty(), "node processes left: {nodes:?}");
    if let Ok(o) = Command::new("iptables").args(["-w", "-S"]).output() {
        let rules = String::from_utf8_lossy(&o.stdout);
        assert!(!rules.contains("CONVERGE"), "iptables rules left:\n{rules}");
    }
}

/// Anti-entropy every second (the node's default is every 10 minutes):
/// a crash loses hints, so after a run with crashes only anti-entropy
/// makes replicas agree within the convergence timeout.
pub const FAST_ANTI_ENTROPY: &str = "[node.anti_entropy]\ninterval = \"1s\"\njitter = \"200ms\"\n";

/// `text` switched to dvv with the causal workload, for tests that combine
/// clock faults with a valid verdict. Under lww, blind writes and skewed
/// clocks really do lose writes (a write that follows a delete from a node
/// whose hybrid clock leads is stamped below it, and a read shows it gone:
/// CI caught `lost-write-observed` that way); the lww skew test in runs.rs
/// proves that detection. With dvv, causality, not clocks, orders versions,
/// so these tests must be valid on any seed.
pub fn ordered_by_causality(text: &str) -> String {
    let out = text
        .replace("keys = 20", "keys = 20\nkind = \"causal\"")
        .replace(
            "op_timeout = \"1s\"",
            "op_timeout = \"1s\"\nconflict = \"dvv\"",
        );
    assert!(out.contains("conflict = \"dvv\"") && out.contains("kind = \"causal\""));
    out
}

/// A small test file for 3 containers.
pub fn config(extra: &str) -> String {
    format!(
        "[test]\nnodes = 3\nrf = 3\nr = 2\nw = 2\ntime_limit = \"8s\"\nconcurrency = 6\n\
         convergence_timeout = \"20s\"\nop_timeout = \"1s\"\n\n[workload]\nkeys = 20\n\n{extra}"
    )
}

//! `--deploy docker` end to end: three containers built from the local
//! image, real iptables partitions, kill -9 crashes and clock skew; the
//! verdicts match the local backend's, and nothing is left behind.

mod docker_support;

use converge_tests::{Harness, cluster_lock, count, verdict};
use docker_support::{
    FAST_ANTI_ENTROPY, assert_nothing_left, config, docker_or_skip, ordered_by_causality,
    run_with_pid,
};

#[test]
fn docker_run_with_partition_crash_and_clock_is_valid() {
    if !docker_or_skip("docker_run_with_partition_crash_and_clock_is_valid") {
        return;
    }
    let _one = cluster_lock();
    let h = Harness::new();
    let text = ordered_by_causality(&config(&format!(
        "[nemesis]\nfaults = [\"partition\", \"crash\", \"clock\"]\ninterval = \"1s\"\nmax_down = 1\nclock_skew = \"2s\"\n{FAST_ANTI_ENTROPY}",
    )));
    let path = h.file("docker.toml", &text);
    let (out, pid) = run_with_pid(
        &h,
        &[
            "run",
            "--config",
            path.to_str().unwrap(),
            "--deploy",
            "docker",
        ],
    );
    assert_nothing_left(pid);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(r["valid"], true);
    assert_eq!(verdict(&r, "convergence"), true);
    // A crashed node's clock needs no reset (it restarts at offset 0), so
    // stopping a clock fault over a crash is not an error.
    assert!(
        !out.stderr.contains("stopping clock fault"),
        "stderr:\n{}",
        out.stderr
    );
    // The faults really happened: the history records them.
    let history = std::fs::read_to_string(h.latest().join("history.jsonl")).unwrap();
    for fault in ["partition", "crash", "clock"] {
        assert!(
            history.contains(&format!("\"fault\":\"{fault}\"")),
            "no {fault} fault in the history"
        );
    }
    // Node logs were downloaded from the containers.
    let log = std::fs::read_to_string(h.latest().join("nodes/n1/node.log")).unwrap_or_default();
    assert!(!log.is_empty(), "n1's log was not downloaded");
}

#[test]
fn docker_run_with_repair_off_is_flagged() {
    if !docker_or_skip("docker_run_with_repair_off_is_flagged") {
        return;
    }
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(
        "[nemesis]\nfaults = [\"partition\", \"crash\", \"clock\"]\ninterval = \"2s\"\nmax_down = 1\n\n\
         [node.cluster]\nrequest_timeout = \"300ms\"\n\
         [node.read_repair]\nmode = \"off\"\n[node.hints]\nenabled = false\n[node.anti_entropy]\nmode = \"off\"\n",
    );
    // 1,000 keys, mostly cold: a write a cut-off replica missed is rarely
    // overwritten later, so every seed leaves divergence behind (each cut
    // lasts 2 s, past the 300 ms request timeout: iptables DROP lets TCP
    // retransmit at the heal, so only longer cuts make replicas miss writes).
    let text = text.replace("keys = 20", "keys = 1000");
    let path = h.file("no-repair.toml", &text);
    let (out, pid) = run_with_pid(
        &h,
        &[
            "run",
            "--config",
            path.to_str().unwrap(),
            "--deploy",
            "docker",
            "--convergence-timeout",
            "3s",
        ],
    );
    assert_nothing_left(pid);
    assert_eq!(
        out.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(verdict(&r, "convergence"), false);
    assert!(count(&r, "convergence", "divergent-key") > 0);
}

/// `--latency` on containers (whose kernels lack tc netem) routes internode
/// links through the harness's proxies on the network's gateway: a write
/// needs an ack from a remote replica (w = 2), so its latency includes at
/// least one delayed hop each way.
#[test]
fn docker_run_with_latency_delays_internode_links_and_is_valid() {
    if !docker_or_skip("docker_run_with_latency_delays_internode_links_and_is_valid") {
        return;
    }
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(&format!(
        "[nemesis]\nfaults = [\"partition\"]\ninterval = \"2s\"\nlatency = \"30ms\"\n{FAST_ANTI_ENTROPY}",
    ));
    let path = h.file("latency.toml", &text);
    let (out, pid) = run_with_pid(
        &h,
        &[
            "run",
            "--config",
            path.to_str().unwrap(),
            "--deploy",
            "docker",
        ],
    );
    assert_nothing_left(pid);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let r = h.results();
    assert_eq!(r["valid"], true);
    let perf = r["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["checker"] == "perf"))
        .map(|c| c["details"].clone())
        .expect("a perf check in results.json");
    let p50 = perf["latency"]["write"]["ok"]["p50_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no successful writes: {perf}"));
    // Request and ack each cross a 30 ms link: well over 30 ms. Without the
    // proxies a write on a local bridge takes a few milliseconds.
    assert!(p50 >= 30.0, "write p50 {p50} ms is below the 30 ms latency");
}

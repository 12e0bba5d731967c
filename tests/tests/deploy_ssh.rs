//! A run over SSH for real: containers with sshd, a key pair made for the
//! run, host keys recorded with accept-new, iptables partitions and
//! libfaketime clocks driven through the SSH control layer.

mod docker_support;

use converge_tests::{Harness, cluster_lock, verdict};
use docker_support::{
    FAST_ANTI_ENTROPY, assert_nothing_left, config, docker_or_skip, run_with_pid,
};

#[test]
fn ssh_into_containers_with_partition_and_faketime_clock_is_valid() {
    if !docker_or_skip("ssh_into_containers_with_partition_and_faketime_clock_is_valid") {
        return;
    }
    let _one = cluster_lock();
    let h = Harness::new();
    let text = config(&format!(
        "[nemesis]\nfaults = [\"partition\", \"clock\"]\ninterval = \"1s\"\nclock_skew = \"3s\"\n{FAST_ANTI_ENTROPY}",
    ));
    let path = h.file("ssh.toml", &text);
    let (out, pid) = run_with_pid(
        &h,
        &[
            "run",
            "--config",
            path.to_str().unwrap(),
            "--deploy",
            "docker",
            "--docker-control",
            "ssh",
            "--clock",
            "faketime",
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
    // SSH was really used: one host key per container was recorded.
    let known = std::fs::read_to_string(h.latest().join("ssh/known_hosts")).unwrap();
    assert_eq!(
        known.lines().filter(|l| !l.trim().is_empty()).count(),
        3,
        "{known}"
    );
    let history = std::fs::read_to_string(h.latest().join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"fault\":\"clock\""),
        "no clock fault in the history"
    );
    assert!(
        history.contains("\"fault\":\"partition\""),
        "no partition in the history"
    );
}

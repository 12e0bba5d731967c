//! A run over SSH for real: containers with sshd, a key pair made for the
//! run, host keys recorded with accept-new, iptables partitions and
//! libfaketime clocks driven through the SSH control layer.

mod docker_support;

use converge_tests::{Harness, cluster_lock, verdict};
use docker_support::{
    FAST_ANTI_ENTROPY, assert_nothing_left, config, docker_or_skip, ordered_by_causality,
    run_with_pid,
};

#[test]
fn ssh_into_containers_with_partition_and_faketime_clock_is_valid() {
    if !docker_or_skip("ssh_into_containers_with_partition_and_faketime_clock_is_valid") {
        return;
    }
    let _one = cluster_lock();
    let h = Harness::new();
    let text = ordered_by_causality(&config(&format!(
        "[nemesis]\nfaults = [\"partition\", \"clock\"]\ninterval = \"1s\"\nclock_skew = \"3s\"\n{FAST_ANTI_ENTROPY}",
    )));
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

/// `--deploy ssh` as a VM user runs it, with containers standing in for
/// the VMs: a first run leaves its containers (and nodes) up; a second run
/// logs in over SSH to their addresses with the first run's key and
/// known_hosts, wipes the leftover nodes, and runs a valid test with
/// partitions and faketime clocks.
#[test]
fn deploy_ssh_against_hosts_by_address_is_valid() {
    if !docker_or_skip("deploy_ssh_against_hosts_by_address_is_valid") {
        return;
    }
    let _one = cluster_lock();
    let h = Harness::new();
    let first = h.file(
        "hosts.toml",
        &config("[nemesis]\nfaults = []\n").replace("time_limit = \"8s\"", "time_limit = \"1s\""),
    );
    let (out, first_pid) = run_with_pid(
        &h,
        &[
            "run",
            "--config",
            first.to_str().unwrap(),
            "--deploy",
            "docker",
            "--docker-control",
            "ssh",
            "--leave-running",
        ],
    );
    let cleanup = RemoveContainersOnDrop(first_pid);
    assert_eq!(out.code, 0, "stderr:\n{}", out.stderr);
    let ssh_dir = h.latest().join("ssh");
    let known = std::fs::read_to_string(ssh_dir.join("known_hosts")).unwrap();
    let hosts: Vec<&str> = known
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(hosts.len(), 3, "{known}");

    let text = ordered_by_causality(&config(&format!(
        "[nemesis]\nfaults = [\"partition\", \"clock\"]\ninterval = \"1s\"\nclock_skew = \"3s\"\n{FAST_ANTI_ENTROPY}",
    )));
    let second = h.file("ssh-hosts.toml", &text);
    let key = ssh_dir.join("id_ed25519");
    let kh = ssh_dir.join("known_hosts");
    let (out, _) = run_with_pid(
        &h,
        &[
            "run",
            "--config",
            second.to_str().unwrap(),
            "--deploy",
            "ssh",
            "--hosts",
            &hosts.join(","),
            "--ssh-key",
            key.to_str().unwrap(),
            "--known-hosts",
            kh.to_str().unwrap(),
            "--clock",
            "faketime",
        ],
    );
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert_eq!(h.results()["valid"], true);
    // The ssh run stopped its nodes and removed its chain on every host.
    for name in container_names(first_pid) {
        let ps = std::process::Command::new("docker")
            .args(["exec", &name, "sh", "-c", "ps -e -o args; iptables -S"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&ps.stdout);
        assert!(!text.contains("converge-node"), "{name}: {text}");
        assert!(!text.contains("CONVERGE"), "{name}: {text}");
    }
    drop(cleanup);
    assert_nothing_left(first_pid);
}

fn container_names(pid: u32) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=converge.pid={pid}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// What `--leave-running` kept is the test's to remove, even when it fails.
struct RemoveContainersOnDrop(u32);

impl Drop for RemoveContainersOnDrop {
    fn drop(&mut self) {
        let label = format!("label=converge.pid={}", self.0);
        for name in container_names(self.0) {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", &name])
                .output();
        }
        let nets = std::process::Command::new("docker")
            .args(["network", "ls", "-q", "--filter", &label])
            .output()
            .unwrap();
        for n in String::from_utf8_lossy(&nets.stdout).lines() {
            let _ = std::process::Command::new("docker")
                .args(["network", "rm", n])
                .output();
        }
    }
}

/// Latency over SSH goes through the harness's proxies, which need an
/// address the hosts can reach: without `--proxy-listen` the run is refused
/// before any host is contacted (exit 2, one line naming the flag).
#[test]
fn latency_over_ssh_without_proxy_listen_is_refused() {
    let h = Harness::new();
    let out = h.run(&[
        "run",
        "--deploy",
        "ssh",
        "--hosts",
        "a,b,c",
        "--nodes",
        "3",
        "--latency",
        "5ms",
    ]);
    assert_eq!(out.code, 2, "stderr:\n{}", out.stderr);
    assert!(
        out.stderr.contains("--proxy-listen"),
        "stderr:\n{}",
        out.stderr
    );
}

//! Whole runs that check converge-node's hardening (issue 15) end to end:
//! `converge run --nemesis wipe --conflict dvv --workload causal` must be
//! valid. Wiping a replica used to make it re-issue DVV dots its peers
//! already held (Riak's kv679): the peers dropped its next writes as already
//! seen, so acknowledged writes were lost and replicas could diverge for
//! good. Each wiped node now mints as a new incarnation.

use converge_tests::{Harness, anomalies, cluster_lock, node_pids_under, verdict};

/// A short run on three nodes, every key on every node so that each wipe
/// hits replicas of every key. Read repair is off and anti-entropy runs
/// every second: a wiped node then stays empty, minting from nothing, until
/// the next round (read repair would refill it within milliseconds and hide
/// the dot reuse), and anti-entropy is what converges the run.
const BASE: &str = "[test]\nnodes = 3\nrf = 3\nr = 2\nw = 2\ntime_limit = \"8s\"\n\
                    concurrency = 6\nconvergence_timeout = \"20s\"\nop_timeout = \"1s\"\n\n\
                    [workload]\nkeys = 8\nmix = \"read=30,write=70\"\n\n\
                    [nemesis]\ninterval = \"1500ms\"\nmax_down = 1\n\n\
                    [node.read_repair]\nmode = \"off\"\n\n\
                    [node.anti_entropy]\ninterval = \"1s\"\njitter = \"200ms\"\n";

#[test]
fn wipe_under_the_causal_dvv_workload_loses_no_acknowledged_write() {
    let _one = cluster_lock();
    let h = Harness::new();
    let config = h.file("wipe-dvv-causal.toml", BASE);
    let out = h.run(&[
        "run",
        "--config",
        config.to_str().expect("utf-8 temp path"),
        "--nemesis",
        "wipe",
        "--conflict",
        "dvv",
        "--workload",
        "causal",
    ]);
    assert!(
        node_pids_under(h.dir.path()).is_empty(),
        "node processes outlived the harness"
    );
    let results = h.results();
    let context = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    assert_eq!(
        verdict(&results, "lost-updates"),
        true,
        "{} lost updates; {context}",
        anomalies(&results, "lost-updates")
    );
    assert_eq!(verdict(&results, "convergence"), true, "{context}");
    assert_eq!(results["valid"], true, "{context}");
    assert_eq!(out.code, 0, "{context}");
    // The nemesis really wiped someone, or the run proved nothing.
    let history = std::fs::read_to_string(h.latest().join("history.jsonl")).expect("history");
    assert!(
        history
            .lines()
            .any(|l| l.contains("\"nemesis\"") && l.contains("wipe")),
        "no wipe happened; {context}"
    );
}

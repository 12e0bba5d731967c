//! `converge zoo` end to end, the short version CI can afford: six zoo
//! bugs and the clean node, one seed each, the default test shortened to
//! 20 s. Each bug must be caught with the anomaly kind docs/zoo.md predicts,
//! and the clean node must be valid (no false alarm).
//!
//! The six are among the ones the default test caught in every seed of
//! the measured zoo (docs/BENCHMARKS.md, "Detection power"), one of them
//! (`ae-skips-tombstones`) only since the default's 3 s hint window leaves
//! cold keys to anti-entropy alone; at 10 s a
//! seed missed `local-read-wins` (its stale coordinator needs a fault that
//! makes a replica miss writes, and a short run may hold too few). The seed
//! is the zoo's own, drawn from its name ("ci"): the same on every run.

use converge_tests::{Harness, binaries, cluster_lock, wait_with_deadline, zoo_node};
use serde_json::Value;

fn bug<'a>(zoo: &'a Value, name: &str) -> &'a Value {
    zoo["bugs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["bug"] == name)
        .unwrap_or_else(|| panic!("no {name} in {zoo:#}"))
}

fn kinds(b: &Value) -> Vec<String> {
    b["caught_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_zoo_catches_six_bugs_by_their_predicted_kinds_and_the_clean_node_is_valid() {
    let _one = cluster_lock();
    let h = Harness::new();
    let store = h.store();
    let child = h
        .command(&[
            "zoo",
            "--name",
            "ci",
            "--bugs",
            "early-ack,local-read-wins,gc-ignores-grace,read-repair-overwrites,ae-skips-tombstones,lww-wall-clock",
            "--seeds",
            "1",
            "--time-limit",
            "20s",
            "--store",
            store.to_str().unwrap(),
            "--node-bin",
            binaries().node.to_str().unwrap(),
            "--zoo-node-bin",
            zoo_node().to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    // Seven runs, each within a run's deadline.
    let out = wait_with_deadline(child, converge_tests::RUN_DEADLINE * 7);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let dir = store.join("zoos/ci");
    let zoo: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("zoo.json")).unwrap()).unwrap();
    assert!(dir.join("zoo.html").is_file() && dir.join("zoo.md").is_file());

    let clean = bug(&zoo, "clean");
    assert_eq!(
        (clean["judged"].as_u64(), clean["detected"].as_u64()),
        (Some(1), Some(0))
    );
    for name in [
        "early-ack",
        "local-read-wins",
        "gc-ignores-grace",
        "read-repair-overwrites",
        "ae-skips-tombstones",
        "lww-wall-clock",
    ] {
        let b = bug(&zoo, name);
        assert_eq!(b["detected"], 1, "{name} was not caught: {b:#}");
        assert!(b["ttd_median_ms"].as_u64().is_some(), "{b:#}");
    }
    // A coordinator that acks early: reads miss acknowledged writes.
    let early = kinds(bug(&zoo, "early-ack"));
    assert!(
        early.iter().any(|k| k == "lost-updates/lost-write-observed"
            || k == "staleness/stale-read-under-quorum-overlap"),
        "{early:?}"
    );
    // A read answered from the coordinator's own copy: stale quorum reads.
    let local = kinds(bug(&zoo, "local-read-wins"));
    assert!(
        local.contains(&"staleness/stale-read-under-quorum-overlap".to_string()),
        "{local:?}"
    );
    // Tombstones purged at once: deleted values come back, and the replicas
    // agree on them (no divergence explains it). A write concurrent with
    // the purged delete may also be reported lost (see docs/zoo.md).
    let gc = kinds(bug(&zoo, "gc-ignores-grace"));
    assert!(gc.iter().any(|k| k.starts_with("resurrection/")), "{gc:?}");
    assert!(!gc.iter().any(|k| k.starts_with("convergence/")), "{gc:?}");
    // A repair that overwrites newer data: acknowledged writes lost.
    let rr = kinds(bug(&zoo, "read-repair-overwrites"));
    assert!(rr.iter().any(|k| k.starts_with("lost-updates/")), "{rr:?}");

    // Anti-entropy that never streams tombstones: the replica that missed a
    // delete keeps the value beside the others' tombstone after the heal.
    let ae = kinds(bug(&zoo, "ae-skips-tombstones"));
    assert!(
        ae.contains(&"convergence/divergent-key".to_string()),
        "{ae:?}"
    );

    // Wall-clock stamps under the default's clock faults: a write through a
    // node whose clock is behind loses to an earlier one.
    let wall = kinds(bug(&zoo, "lww-wall-clock"));
    assert!(
        wall.iter()
            .any(|k| k == "lost-updates/lost-write" || k == "lost-updates/lost-write-observed"),
        "{wall:?}"
    );

    // Every run's report is linked from the page.
    let html = std::fs::read_to_string(dir.join("zoo.html")).unwrap();
    assert_eq!(html.matches("/report.html").count(), 7, "{html}");
}

//! The zoo's injected bugs (src/zoo.rs, docs/zoo.md), each shown on real
//! node processes: every test drives a small deterministic scenario and
//! asserts the bug's effect (a lost acknowledged write, a resurrected
//! delete, a stale quorum read, a replica left unrepaired).
//!
//! Each assertion is one the reference node fails. To see that, run the
//! same scenarios with no bug injected:
//!
//!     ZOO_AS_REFERENCE=1 cargo test -p converge-node --features zoo --test zoo
//!
//! Then every bug test must fail (and the two reference tests still pass).
#![cfg(feature = "zoo")]

mod support;

use serde_json::Value;
use std::time::Duration;
use support::{Cluster, eventually, values};

/// Set to start every node without `--zoo-bug`: the bug tests must fail.
const AS_REFERENCE: &str = "ZOO_AS_REFERENCE";

/// A node config with every repair mechanism off unless a test turns it on,
/// so each scenario exercises exactly one path.
#[derive(Clone, Copy)]
struct Conf {
    conflict: &'static str,
    read_repair: &'static str,
    hints: &'static str,
    anti_entropy: &'static str,
    gc_grace: &'static str,
}

const QUIET: Conf = Conf {
    conflict: "lww",
    read_repair: "mode = \"off\"",
    hints: "enabled = false",
    anti_entropy: "mode = \"off\"",
    gc_grace: "10d",
};

/// QUIET with version vectors, for the bugs that live in the DVV code.
const QUIET_DVV: Conf = Conf {
    conflict: "dvv",
    ..QUIET
};

/// Anti-entropy on, but only when a test asks for a round.
const ON_DEMAND_AE: &str = "mode = \"merkle\"\ninterval = \"1h\"\njitter = \"1s\"";

impl Conf {
    fn toml(self) -> String {
        format!(
            "[cluster]\nconflict = \"{}\"\nrequest_timeout = \"1s\"\n\
             [storage]\nfsync = \"always\"\n\
             [tombstones]\ngc_grace = \"{}\"\n\
             [read_repair]\n{}\n[hints]\n{}\n[anti_entropy]\n{}\n",
            self.conflict, self.gc_grace, self.read_repair, self.hints, self.anti_entropy
        )
    }
}

/// Three nodes (rf = 3: every node replicates every key) running `bug`.
async fn start(bug: &str, configs: [Conf; 3]) -> Cluster {
    let args = if std::env::var_os(AS_REFERENCE).is_some() {
        Vec::new()
    } else {
        vec!["--zoo-bug".to_string(), bug.to_string()]
    };
    let configs = configs.iter().map(|c| c.toml()).collect();
    Cluster::start_with_args(configs, false, args).await
}

/// Runs anti-entropy rounds from node `i` until one reaches every peer (a
/// peer just restarted may still be in the dialler's backoff).
async fn anti_entropy_round(cluster: &Cluster, i: usize) {
    eventually(
        Duration::from_secs(10),
        "a full anti-entropy round",
        || async {
            let r = cluster
                .client
                .post(cluster.url(i, "/admin/anti-entropy"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let report: Value = r.json().await.unwrap();
            report["peers_failed"] == serde_json::json!([])
        },
    )
    .await;
}

/// `GET ?r=3` through node `i`, retried while it answers 503 (a replica
/// just restarted may still be in the coordinator's dial backoff).
async fn read_all(cluster: &Cluster, i: usize, key: &str) -> (u16, Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = cluster.get(i, key, "?r=3").await;
        if status != 503 || std::time::Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health(cluster: &Cluster, i: usize) -> Value {
    let r = cluster.client.get(cluster.url(i, "/health")).send().await;
    r.unwrap().json().await.unwrap()
}

async fn metric(cluster: &Cluster, i: usize, name: &str) -> f64 {
    cluster.metric(i, name).await.unwrap_or(0.0)
}

/// Waits until node `i` no longer stores `key` (its tombstone was purged).
async fn purged(cluster: &Cluster, i: usize, key: &str) {
    eventually(
        Duration::from_secs(10),
        "the tombstone is purged",
        || async { !cluster.dump(i).await.contains_key(key) },
    )
    .await;
}

fn sorted(body: &Value) -> Vec<String> {
    let mut v = values(body);
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zoo_binary_without_a_bug_behaves_like_the_reference_node() {
    let configs = vec![String::new(); 3];
    let cluster = Cluster::start_with_args(configs, false, Vec::new()).await;
    // The reference node's answer, field for field (no `zoo_bug: null`).
    let health = health(&cluster, 0).await;
    assert_eq!(health, serde_json::json!({"id": "n1", "status": "ok"}));
    assert_eq!(cluster.put(0, "k", "v", "", None).await.0, 200);
    let (status, body) = read_all(&cluster, 1, "k").await;
    assert_eq!((status, values(&body)), (200, vec!["v".to_string()]));
    assert_eq!(cluster.delete(2, "k", "", None).await.0, 200);
    assert_eq!(read_all(&cluster, 0, "k").await.0, 404);
    for i in 0..3 {
        assert_eq!(cluster.dump(i).await["k"]["tombstone"], true);
    }
}

#[test]
fn an_unknown_zoo_bug_is_a_bad_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_converge-node"))
        .args(["--id", "n1", "--listen", "127.0.0.1:1", "--peer-listen"])
        .args(["127.0.0.1:2", "--zoo-bug", "no-such-bug", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-such-bug") && stderr.contains("--zoo-bug"),
        "{stderr}"
    );
}

/// n3 holds the newest write; a read that missed it repairs n2 with an
/// older value, re-stamped now: once n3 is back the older value wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_repair_overwrites_makes_an_older_value_beat_an_acknowledged_newer_one() {
    let rr = Conf {
        read_repair: "mode = \"blocking\"",
        ..QUIET
    };
    let mut cluster = start("read-repair-overwrites", [rr; 3]).await;
    cluster.kill(1);
    cluster.kill(2);
    assert_eq!(cluster.put(0, "k", "older", "?w=1", None).await.0, 200);
    cluster.restart(2).await;
    cluster.kill(0);
    assert_eq!(cluster.put(2, "k", "newer", "?w=1", None).await.0, 200);
    cluster.restart(0).await;
    cluster.restart(1).await;
    cluster.kill(2);
    // R = 2 misses n3: "older" is the right answer here, and n2 is repaired.
    let (_, body) = cluster.get(0, "k", "?r=2").await;
    assert_eq!(values(&body), vec!["older".to_string()]);
    cluster.restart(2).await;
    let (_, body) = read_all(&cluster, 0, "k").await;
    assert_eq!(
        values(&body),
        vec!["older".to_string()],
        "the acknowledged newer write survived"
    );
}

/// A replica that missed a delete keeps the value through anti-entropy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ae_skips_tombstones_leaves_a_deleted_value_on_the_replica_that_missed_the_delete() {
    let ae = Conf {
        anti_entropy: ON_DEMAND_AE,
        ..QUIET
    };
    let mut cluster = start("ae-skips-tombstones", [ae; 3]).await;
    assert_eq!(cluster.put(0, "k", "v", "?w=3", None).await.0, 200);
    cluster.kill(2);
    assert_eq!(cluster.delete(0, "k", "?w=2", None).await.0, 200);
    cluster.restart(2).await;
    anti_entropy_round(&cluster, 0).await;
    let entry = &cluster.dump(2).await["k"];
    assert_eq!(
        (&entry["tombstone"], &entry["values"]),
        (&Value::Bool(false), &serde_json::json!(["v"])),
        "anti-entropy delivered the tombstone"
    );
}

/// A replica holding a stale version looks equal to the Merkle trees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merkle_ignores_versions_leaves_a_stale_replica_unrepaired() {
    let ae = Conf {
        anti_entropy: ON_DEMAND_AE,
        ..QUIET
    };
    let mut cluster = start("merkle-ignores-versions", [ae; 3]).await;
    assert_eq!(cluster.put(0, "k", "v1", "?w=3", None).await.0, 200);
    cluster.kill(2);
    assert_eq!(cluster.put(0, "k", "v2", "?w=2", None).await.0, 200);
    cluster.restart(2).await;
    anti_entropy_round(&cluster, 0).await;
    assert_eq!(
        cluster.dump(2).await["k"]["values"],
        serde_json::json!(["v1"]),
        "anti-entropy repaired the stale version"
    );
}

/// An old write replayed from a hint is re-stamped and beats a newer one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hint_restamps_lets_a_replayed_old_write_beat_a_newer_one() {
    // Only n1 stores hints, so exactly one (the older write) is replayed.
    let hinting = Conf {
        hints: "enabled = true",
        ..QUIET
    };
    let mut cluster = start("hint-restamps", [hinting, QUIET, QUIET]).await;
    cluster.kill(2);
    assert_eq!(cluster.put(0, "k", "older", "?w=2", None).await.0, 200);
    eventually(Duration::from_secs(10), "the hint is stored", || async {
        metric(&cluster, 0, "converge_hints_stored_total").await >= 1.0
    })
    .await;
    assert_eq!(cluster.put(1, "k", "newer", "?w=2", None).await.0, 200);
    cluster.restart(2).await;
    eventually(Duration::from_secs(10), "the hint is replayed", || async {
        metric(&cluster, 0, "converge_hints_replayed_total").await >= 1.0
    })
    .await;
    let (_, body) = read_all(&cluster, 1, "k").await;
    assert_eq!(
        values(&body),
        vec!["older".to_string()],
        "the acknowledged newer write survived"
    );
}

/// Tombstones purged at once: anti-entropy brings the value back from the
/// replica that missed the delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_ignores_grace_resurrects_a_delete_a_replica_missed() {
    let conf = Conf {
        anti_entropy: ON_DEMAND_AE,
        gc_grace: "1h",
        ..QUIET
    };
    let mut cluster = start("gc-ignores-grace", [conf; 3]).await;
    assert_eq!(cluster.put(0, "k", "v", "?w=3", None).await.0, 200);
    cluster.kill(2);
    assert_eq!(cluster.delete(0, "k", "?w=2", None).await.0, 200);
    // Many scans of the buggy 100 ms cadence; none of the reference's.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for i in 0..2 {
        assert!(
            !cluster.dump(i).await.contains_key("k"),
            "n{} kept the tombstone within gc_grace",
            i + 1
        );
    }
    cluster.restart(2).await;
    anti_entropy_round(&cluster, 0).await;
    let (status, body) = read_all(&cluster, 0, "k").await;
    assert_eq!((status, values(&body)), (200, vec!["v".to_string()]));
}

/// A W = 2 write acknowledged by one replica is lost with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_ack_acknowledges_a_write_that_is_then_lost() {
    let mut cluster = start("early-ack", [QUIET; 3]).await;
    if std::env::var_os(AS_REFERENCE).is_none() {
        assert_eq!(health(&cluster, 0).await["zoo_bug"], "early-ack");
    }
    cluster.kill(1);
    cluster.kill(2);
    let (put, _) = cluster.put(0, "k", "v", "?w=2", None).await;
    cluster.kill(0);
    cluster.restart(1).await;
    cluster.restart(2).await;
    let (get, _) = cluster.get(1, "k", "?r=2").await;
    assert_eq!(
        (put, get),
        (200, 404),
        "(PUT w=2 with one replica up, GET r=2 of the other two)"
    );
}

/// A write with a context that saw only "a" also removes the concurrent "b".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dvv_ignores_context_drops_a_concurrent_sibling() {
    let cluster = start("dvv-ignores-context", [QUIET_DVV; 3]).await;
    let (status, put) = cluster.put(0, "k", "a", "?w=3", None).await;
    assert_eq!(status, 200);
    let saw_a = put["context"].as_str().unwrap().to_string();
    assert_eq!(cluster.put(1, "k", "b", "?w=3", None).await.0, 200);
    assert_eq!(cluster.put(0, "k", "c", "?w=3", Some(&saw_a)).await.0, 200);
    let (_, body) = read_all(&cluster, 2, "k").await;
    assert_eq!(
        sorted(&body),
        vec!["c".to_string()],
        "the concurrent sibling survived"
    );
}

/// A wiped node re-issues its old dot: peers drop the new write as seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_reuse_after_a_wipe_loses_the_next_write() {
    let mut cluster = start("actor-reuse", [QUIET_DVV; 3]).await;
    assert_eq!(cluster.put(0, "k", "v1", "?w=3", None).await.0, 200);
    cluster.kill(0);
    std::fs::remove_dir_all(cluster.data_dir(0)).unwrap();
    cluster.restart(0).await;
    assert_eq!(cluster.put(0, "k", "v2", "?w=3", None).await.0, 200);
    for i in 1..3 {
        assert_eq!(
            cluster.dump(i).await["k"]["values"],
            serde_json::json!(["v1"]),
            "n{} kept the acknowledged v2",
            i + 1
        );
    }
}

/// kv679 had no incarnations at all: a purge of the node's own dots does
/// not move it to a new actor either (the reference node would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_reuse_keeps_its_one_actor_through_a_purge_of_its_own_dots() {
    let dvv = Conf {
        gc_grace: "1s",
        ..QUIET_DVV
    };
    let cluster = start("actor-reuse", [dvv; 3]).await;
    let (status, put) = cluster.put(0, "k", "v1", "?w=3", None).await;
    assert_eq!(status, 200);
    let context = put["context"].as_str().unwrap().to_string();
    assert_eq!(cluster.delete(0, "k", "?w=3", Some(&context)).await.0, 200);
    purged(&cluster, 0, "k").await;
    assert_eq!(cluster.put(0, "k2", "v2", "?w=1", None).await.0, 200);
    let version = cluster.dump(0).await["k2"]["version"].clone();
    let id = health(&cluster, 0).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let actor = version["dots"][0]
        .as_str()
        .and_then(|dot| dot.rsplit_once(':'))
        .map(|(actor, _)| actor.to_string());
    assert_eq!(
        actor,
        Some(format!("{id}#0")),
        "the write after the purge was minted by another actor: {version}"
    );
}

/// kv679's doomstone: after GC purged a tombstone, a new write re-issues
/// its dots, and the old tombstone, handed off late, swallows the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doomstone_lets_a_late_tombstone_swallow_a_new_write() {
    let base = Conf {
        gc_grace: "1s",
        ..QUIET_DVV
    };
    // n1 hints n3; n3 keeps what it is handed off for the whole test.
    let n1 = Conf {
        hints: "enabled = true",
        ..base
    };
    let n3 = Conf {
        gc_grace: "1h",
        ..base
    };
    let mut cluster = start("doomstone", [n1, base, n3]).await;
    let (status, put) = cluster.put(0, "k", "v1", "?w=3", None).await;
    assert_eq!(status, 200);
    let context = put["context"].as_str().unwrap().to_string();
    cluster.kill(2);
    assert_eq!(cluster.delete(0, "k", "?w=2", Some(&context)).await.0, 200);
    purged(&cluster, 0, "k").await;
    purged(&cluster, 1, "k").await;
    assert_eq!(cluster.put(0, "k", "v2", "?w=2", None).await.0, 200);
    cluster.restart(2).await;
    eventually(Duration::from_secs(10), "n3's hints replayed", || async {
        metric(&cluster, 0, "converge_hints_replayed_total").await >= 2.0
            && metric(&cluster, 0, "converge_hints_backlog{target=\"n3\"}").await == 0.0
    })
    .await;
    let (status, body) = read_all(&cluster, 0, "k").await;
    assert_eq!(status, 404, "the acknowledged v2 survived: {body}");
}

/// A hint older than gc_grace is replayed after the delete's tombstones
/// were purged: the deleted value comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_outlive_grace_resurrects_a_purged_delete() {
    let base = Conf {
        gc_grace: "1s",
        ..QUIET
    };
    let n1 = Conf {
        hints: "enabled = true\nwindow = \"1s\"",
        ..base
    };
    let n3 = Conf {
        gc_grace: "1h",
        ..base
    };
    let mut cluster = start("hints-outlive-grace", [n1, base, n3]).await;
    cluster.kill(2);
    assert_eq!(cluster.put(0, "k", "v", "?w=2", None).await.0, 200);
    eventually(Duration::from_secs(10), "the hint is stored", || async {
        metric(&cluster, 0, "converge_hints_stored_total").await >= 1.0
    })
    .await;
    assert_eq!(cluster.delete(1, "k", "?w=2", None).await.0, 200);
    purged(&cluster, 0, "k").await;
    purged(&cluster, 1, "k").await;
    // Well past the hint window as well.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cluster.restart(2).await;
    eventually(Duration::from_secs(10), "the hint is handled", || async {
        metric(&cluster, 0, "converge_hints_replayed_total").await
            + metric(
                &cluster,
                0,
                "converge_hints_dropped_total{reason=\"expired\"}",
            )
            .await
            >= 1.0
    })
    .await;
    let (status, body) = read_all(&cluster, 0, "k").await;
    assert_eq!((status, values(&body)), (200, vec!["v".to_string()]));
}

/// R = 3 reads see the newest write on two replicas, but the coordinator
/// answers with its own stale copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_read_wins_returns_a_stale_value_from_a_full_quorum() {
    let mut cluster = start("local-read-wins", [QUIET; 3]).await;
    assert_eq!(cluster.put(0, "k", "v1", "?w=3", None).await.0, 200);
    cluster.kill(0);
    assert_eq!(cluster.put(1, "k", "v2", "?w=2", None).await.0, 200);
    cluster.restart(0).await;
    let (_, body) = read_all(&cluster, 0, "k").await;
    assert_eq!(values(&body), vec!["v1".to_string()]);
}

/// A coordinator whose clock is 10 s behind stamps a later write below an
/// earlier one: the later, acknowledged write loses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lww_wall_clock_loses_a_write_from_a_node_whose_clock_is_behind() {
    let cluster = start("lww-wall-clock", [QUIET; 3]).await;
    cluster.set_clock_offset(1, -10_000).await;
    assert_eq!(cluster.put(0, "k", "first", "?w=3", None).await.0, 200);
    assert_eq!(cluster.put(1, "k", "second", "?w=3", None).await.0, 200);
    let (_, body) = read_all(&cluster, 2, "k").await;
    assert_eq!(
        values(&body),
        vec!["first".to_string()],
        "the later write won"
    );
}

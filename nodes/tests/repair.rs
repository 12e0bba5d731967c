//! Read repair and hinted handoff with three real node processes, each
//! mechanism alone (the others switched off), per issue 3.

mod support;

use serde_json::json;
use std::time::Duration;
use support::{Cluster, eventually, values};

fn config(read_repair: &str, hints: &str) -> String {
    format!(
        "[cluster]\nrequest_timeout = \"1s\"\n[storage]\nfsync = \"always\"\n\
         [read_repair]\n{read_repair}\n[hints]\n{hints}\n"
    )
}

/// Kills n3, writes `key` through n1 at W=2, restarts n3: n3 is now stale.
async fn stale_third_replica(cluster: &mut Cluster, key: &str, value: &str) {
    cluster.kill(2);
    assert_eq!(cluster.put(0, key, value, "?w=2", None).await.0, 200);
    cluster.restart(2).await;
    assert!(
        !cluster.dump(2).await.contains_key(key),
        "n3 should have missed {key}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_read_repair_fixes_the_stale_replica_before_answering() {
    let mut cluster = Cluster::start(3, &config("mode = \"blocking\"", "enabled = false")).await;
    stale_third_replica(&mut cluster, "k", "v").await;

    let (status, body) = cluster.get(0, "k", "?r=3").await;
    assert_eq!((status, values(&body)), (200, vec!["v".to_string()]));
    // Blocking: repaired by the time the client has its answer.
    assert_eq!(cluster.dump(2).await["k"]["values"], json!(["v"]));
    let repairs = "converge_read_repairs_total{mode=\"blocking\"}";
    assert_eq!(cluster.metric(0, repairs).await, Some(1.0));
    let replicas = "converge_read_repair_replicas_total{mode=\"blocking\"}";
    assert_eq!(cluster.metric(0, replicas).await, Some(1.0));

    // Tombstones are repaired like values.
    cluster.kill(2);
    assert_eq!(cluster.delete(1, "k", "?w=2", None).await.0, 200);
    cluster.restart(2).await;
    assert_eq!(cluster.dump(2).await["k"]["tombstone"], false);
    assert_eq!(cluster.get(0, "k", "?r=3").await.0, 404);
    assert_eq!(cluster.dump(2).await["k"]["tombstone"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_read_repair_fixes_the_stale_replica_after_answering() {
    let mut cluster = Cluster::start(3, &config("mode = \"async\"", "enabled = false")).await;
    stale_third_replica(&mut cluster, "k", "v").await;

    let (status, _) = cluster.get(1, "k", "?r=3").await;
    assert_eq!(status, 200);
    eventually(
        Duration::from_secs(10),
        "n3 repaired asynchronously",
        || async {
            cluster.dump(2).await.get("k").map(|l| l["values"].clone()) == Some(json!(["v"]))
        },
    )
    .await;
    let repairs = "converge_read_repairs_total{mode=\"async\"}";
    assert_eq!(cluster.metric(1, repairs).await, Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_repair_with_chance_zero_never_repairs() {
    let rr = "mode = \"blocking\"\nchance = 0.0";
    let mut cluster = Cluster::start(3, &config(rr, "enabled = false")).await;
    stale_third_replica(&mut cluster, "k", "v").await;
    for _ in 0..5 {
        assert_eq!(cluster.get(0, "k", "?r=3").await.0, 200);
    }
    // Blocking mode would have repaired before answering; nothing did.
    assert!(!cluster.dump(2).await.contains_key("k"));
    let repairs = "converge_read_repairs_total{mode=\"blocking\"}";
    assert_eq!(cluster.metric(0, repairs).await, Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_deliver_missed_writes_and_deletes_to_a_returning_replica() {
    let mut cluster = Cluster::start(3, &config("mode = \"off\"", "enabled = true")).await;
    assert_eq!(cluster.put(0, "doomed", "v", "?w=3", None).await.0, 200);
    cluster.kill(2);
    for i in 0..30 {
        let (status, _) = cluster
            .put(i % 2, &format!("k{i}"), &format!("v{i}"), "?w=2", None)
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(cluster.delete(1, "doomed", "?w=2", None).await.0, 200);
    // At least one hint per write n3 missed (a slow live peer could add
    // more); they are stored just after each client's answer.
    eventually(Duration::from_secs(10), "31 hints stored", || async {
        let stored = cluster
            .metric(0, "converge_hints_stored_total")
            .await
            .unwrap_or(0.0)
            + cluster
                .metric(1, "converge_hints_stored_total")
                .await
                .unwrap_or(0.0);
        stored >= 31.0
    })
    .await;
    assert!(
        cluster
            .metric(0, "converge_hints_backlog{target=\"n3\"}")
            .await
            .unwrap()
            >= 1.0
    );

    cluster.restart(2).await;
    eventually(
        Duration::from_secs(20),
        "n3 received every missed write",
        || async {
            let dump = cluster.dump(2).await;
            (0..30).all(|i| {
                dump.get(&format!("k{i}"))
                    .is_some_and(|l| l["values"] == json!([format!("v{i}")]))
            }) && dump.get("doomed").is_some_and(|l| l["tombstone"] == true)
        },
    )
    .await;
    // The delete was not undone by the returning replica.
    assert_eq!(cluster.get(2, "doomed", "?r=3").await.0, 404);
    for i in 0..2 {
        assert_eq!(
            cluster
                .metric(i, "converge_hints_backlog{target=\"n3\"}")
                .await,
            Some(0.0)
        );
    }
    let replayed = cluster
        .metric(0, "converge_hints_replayed_total")
        .await
        .unwrap()
        + cluster
            .metric(1, "converge_hints_replayed_total")
            .await
            .unwrap();
    assert!(replayed >= 31.0, "replayed {replayed}");
}

/// The window bounds an outage's real length; a clock step changes
/// neither the outage's length nor the hints it allows (a node stepped back
/// kept hinting a delete past the window, and forward it dropped hints of
/// an outage just begun). A hint's age at replay is wall-clock time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_down_past_the_hint_window_gets_no_hints() {
    let mut cluster = Cluster::start(
        3,
        &config("mode = \"off\"", "enabled = true\nwindow = \"2s\""),
    )
    .await;
    cluster.kill(2);
    assert_eq!(cluster.put(0, "early", "v", "?w=2", None).await.0, 200);
    // Hints are stored just after the client's answer.
    eventually(Duration::from_secs(10), "the hint is stored", || async {
        cluster.metric(0, "converge_hints_stored_total").await == Some(1.0)
    })
    .await;

    // A step forward does not make the outage "too long": still hinted,
    // stamped with the stepped clock.
    cluster.set_clock_offset(0, 5000).await;
    assert_eq!(cluster.put(0, "mid", "v", "?w=2", None).await.0, 200);
    eventually(
        Duration::from_secs(10),
        "the step's hint is stored",
        || async { cluster.metric(0, "converge_hints_stored_total").await == Some(2.0) },
    )
    .await;

    // A step back does not make a long outage short. Nothing to poll: the
    // window is real time.
    cluster.set_clock_offset(0, -5000).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(cluster.put(0, "late", "v", "?w=2", None).await.0, 200);
    eventually(
        Duration::from_secs(10),
        "the late write is not hinted",
        || async {
            cluster
                .metric(0, "converge_hints_dropped_total{reason=\"window\"}")
                .await
                == Some(1.0)
        },
    )
    .await;
    assert_eq!(
        cluster.metric(0, "converge_hints_stored_total").await,
        Some(2.0)
    );

    // Back on the real clock, "early" is older than the window: dropped at
    // replay, not replayed; "mid" was stamped 5 s ahead, so it is young.
    cluster.set_clock_offset(0, 0).await;
    cluster.restart(2).await;
    eventually(
        Duration::from_secs(10),
        "the old hint is dropped and the young one replayed",
        || async {
            cluster
                .metric(0, "converge_hints_dropped_total{reason=\"expired\"}")
                .await
                == Some(1.0)
                && cluster.metric(0, "converge_hints_replayed_total").await == Some(1.0)
        },
    )
    .await;
    let dump = cluster.dump(2).await;
    assert!(dump.contains_key("mid"));
    assert!(!dump.contains_key("early") && !dump.contains_key("late"));
}

//! Three real node processes: quorum writes and reads with a replica killed
//! (kill -9) and restarted, deletes, and the 503 case.

mod support;

use std::time::Duration;
use support::{Cluster, values};

const CONFIG: &str = r#"
[cluster]
rf = 3
r = 2
w = 2
request_timeout = "2s"
[storage]
fsync = "always"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_writes_survive_a_killed_replica_and_deletes_stick() {
    let mut cluster = Cluster::start(3, CONFIG).await;

    for i in 0..20 {
        let (status, _) = cluster
            .put(
                i % 3,
                &format!("before-{i}"),
                &format!("v{i}"),
                "?w=3",
                None,
            )
            .await;
        assert_eq!(status, 200);
    }

    cluster.kill(2);

    // W=2 and R=2 still succeed through either surviving coordinator.
    for i in 0..20 {
        let (status, body) = cluster
            .put(
                i % 2,
                &format!("during-{i}"),
                &format!("d{i}"),
                "?w=2",
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for i in 0..20 {
        let (status, body) = cluster
            .get((i + 1) % 2, &format!("during-{i}"), "?r=2")
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(values(&body), vec![format!("d{i}")]);
        let (status, body) = cluster.get(i % 2, &format!("before-{i}"), "?r=2").await;
        assert_eq!((status, values(&body)), (200, vec![format!("v{i}")]));
    }

    // W=3 / R=3 cannot be met: 503 with the counts, quickly rather than hung.
    let started = std::time::Instant::now();
    let (status, body) = cluster.put(0, "needs-three", "x", "?w=3", None).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "unavailable");
    assert_eq!(body["required"], 3);
    assert_eq!(body["acked"], 2);
    assert!(started.elapsed() < Duration::from_secs(10));
    let (status, body) = cluster.get(1, "before-1", "?r=3").await;
    assert_eq!(
        (status, body["required"].as_u64(), body["acked"].as_u64()),
        (503, Some(3), Some(2))
    );

    // Deletes while a replica is down.
    for i in 0..10 {
        let (status, _) = cluster
            .delete(i % 2, &format!("before-{i}"), "?w=2", None)
            .await;
        assert_eq!(status, 200);
    }
    for i in 0..10 {
        let (status, body) = cluster.get(i % 2, &format!("before-{i}"), "").await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(values(&body), Vec::<String>::new());
        assert!(body["context"].is_string());
    }

    cluster.restart(2).await;

    // With the stale replica back, a full read (R=3) merges all three:
    // the later writes and the tombstones win over what n3 still holds.
    for i in 0..20 {
        let (status, body) = cluster.get(2, &format!("during-{i}"), "?r=3").await;
        assert_eq!((status, values(&body)), (200, vec![format!("d{i}")]));
        let (status, body) = cluster.get(2, &format!("before-{i}"), "?r=3").await;
        if i < 10 {
            assert_eq!(status, 404, "deleted key before-{i} came back: {body}");
        } else {
            assert_eq!(values(&body), vec![format!("v{i}")]);
        }
    }
    // The restarted replica kept its pre-crash data (written at W=3 under
    // fsync = "always", so on its disk before the kill); the tombstones are
    // on the others only, as nothing repairs yet.
    let dump = cluster.dump(2).await;
    assert_eq!(dump["before-15"]["values"][0], "v15");
    let dump0 = cluster.dump(0).await;
    assert_eq!(dump0["before-3"]["tombstone"], true);

    assert!(
        cluster
            .metric(0, "converge_quorum_failures_total{op=\"put\"}")
            .await
            .unwrap()
            >= 1.0
    );
    assert_eq!(cluster.terminate(0), Some(0), "SIGTERM is a clean exit");
}

/// CONFIG with no repair path running on its own, so only the write path
/// can order the two writes below.
fn quiet() -> String {
    format!(
        "{CONFIG}[read_repair]\nmode = \"off\"\n[hints]\nenabled = false\n\
         [anti_entropy]\nmode = \"off\"\n"
    )
}

/// A write acknowledged before another began is outranked by it, however
/// far ahead the first one's clock ran: the second coordinator has heard
/// nothing of that clock (it was down), so its HLC stamps below the first
/// write; the replica that holds the first answers `Newer` and the second
/// is pushed above it. Without the push it would be acknowledged and lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_quorum_write_outranks_an_earlier_one_stamped_by_a_clock_ahead() {
    let mut cluster = Cluster::start(3, &quiet()).await;
    cluster.set_clock_offset(0, 10_000).await;
    cluster.kill(1);
    assert_eq!(cluster.put(0, "k", "first", "?w=2", None).await.0, 200);
    // n2 comes back having heard nothing of n1's clock, and n1 is gone.
    cluster.kill(0);
    cluster.restart(1).await;
    assert_eq!(cluster.put(1, "k", "second", "?w=2", None).await.0, 200);
    let (status, body) = cluster.get(1, "k", "?r=2").await;
    assert_eq!((status, values(&body)), (200, vec!["second".to_string()]));
    assert!(
        cluster
            .metric(1, "converge_lww_pushes_total")
            .await
            .is_some_and(|n| n >= 1.0),
        "the write was pushed, not ordered by the HLC"
    );
}

//! Regression tests of issue 15 ("converge-node hardening") with real node
//! processes: dots never reused after data loss, hostile client contexts
//! refused, an LWW clock that survives restarts and honours the client's
//! context, and memory that stays flat under a long write load.

mod support;

use converge_node::clock::HlcTimestamp;
use converge_node::types::{ConflictMode, NodeId};
use converge_node::version::context::ClientContext;
use converge_node::version::dvv::{CausalContext, Dot};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{Cluster, eventually, values};

const DVV: &str = "[cluster]\nconflict = \"dvv\"\nrequest_timeout = \"2s\"\n\
                   [anti_entropy]\nmode = \"off\"\n[read_repair]\nmode = \"off\"\n";
const LWW_ALONE: &str = "[cluster]\nrf = 1\nr = 1\nw = 1\n";

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn lww_context(physical_us: u64) -> String {
    ClientContext::Lww(Some(HlcTimestamp {
        physical_us,
        logical: 0,
    }))
    .encode()
}

fn decode_lww(context: &serde_json::Value) -> HlcTimestamp {
    match ClientContext::decode(context.as_str().unwrap(), ConflictMode::Lww).unwrap() {
        ClientContext::Lww(Some(ts)) => ts,
        other => panic!("not an LWW write context: {other:?}"),
    }
}

/// Riak's kv679: a replica that lost its data must not mint a dot its peers
/// already hold, or they drop the new write as already seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_replica_never_reissues_a_dot_its_peers_hold() {
    let mut cluster = Cluster::start(3, DVV).await;
    assert_eq!(cluster.put(0, "k", "first", "?w=3", None).await.0, 200);

    // The harness's wipe fault: kill, delete the data dir, start empty.
    cluster.kill(0);
    std::fs::remove_dir_all(cluster.data_dir(0)).unwrap();
    cluster.restart(0).await;

    // n1 is a replica of every key (rf = 3 of 3), so it mints this write.
    let (status, body) = cluster.put(0, "k", "second", "?w=3", None).await;
    assert_eq!(status, 200, "{body}");
    for i in 1..3 {
        let mut stored = values(&cluster.dump(i).await["k"]);
        stored.sort();
        assert_eq!(
            stored,
            vec!["first".to_string(), "second".to_string()],
            "n{} dropped the acknowledged write",
            i + 1
        );
    }
}

/// A write's dot counter is never below what the client's context has seen
/// of this replica's actor, and a context whose counters would overflow is a
/// 400, not a panic in the storage writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_context_is_a_400_and_the_node_keeps_serving() {
    let cluster = Cluster::start(3, DVV).await;
    assert_eq!(cluster.put(0, "k", "v0", "?w=3", None).await.0, 200);
    let mut hostile = CausalContext::new();
    hostile.insert(Dot {
        node: NodeId::new("n1"),
        counter: u64::MAX,
    });
    let hostile = ClientContext::Dvv(hostile).encode();
    for _ in 0..2 {
        let (status, body) = cluster.put(0, "k", "evil", "?w=3", Some(&hostile)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("counter"),
            "{body}"
        );
    }
    // Nothing was stored, and the node still takes writes through its own
    // storage writer (w=3 needs the local replica).
    let (status, body) = cluster.put(0, "k", "v1", "?w=3", None).await;
    assert_eq!(status, 200, "{body}");
    let r = cluster
        .client
        .get(cluster.url(0, "/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stored = values(&cluster.dump(0).await["k"]);
    stored.sort();
    assert_eq!(stored, vec!["v0".to_string(), "v1".to_string()]);
}

/// A node skewed forward, then restarted with a correct clock, must still
/// order its new writes after the ones it already stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_orders_new_writes_after_its_stored_ones() {
    let mut cluster = Cluster::start(1, LWW_ALONE).await;
    cluster.set_clock_offset(0, 3_600_000).await;
    assert_eq!(cluster.put(0, "k", "skewed", "", None).await.0, 200);

    // The offset lives in memory: the restarted node has the real clock.
    assert_eq!(cluster.terminate(0), Some(0));
    cluster.restart(0).await;
    let (status, body) = cluster.put(0, "k", "after-restart", "", None).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = cluster.get(0, "k", "").await;
    assert_eq!(values(&body), vec!["after-restart".to_string()]);
}

/// Under LWW the context a read returned is the read version's timestamp; a
/// write carrying it must get a later one, or it is acknowledged yet loses
/// to the very version it meant to replace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_lww_write_is_ordered_after_its_context() {
    let cluster = Cluster::start(1, LWW_ALONE).await;
    let ahead = now_us() + 30_000_000;
    let (status, body) = cluster
        .put(0, "k", "v", "", Some(&lww_context(ahead)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(decode_lww(&body["context"]).physical_us >= ahead);
}

/// A context (or a peer) whose clock is beyond `max_clock_offset` ahead
/// would drag this node's clock with it; it is refused and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_too_far_ahead_is_refused_and_counted() {
    let config = format!("{LWW_ALONE}max_clock_offset = \"10s\"\n");
    let cluster = Cluster::start(1, &config).await;
    let ahead = now_us() + 3_600_000_000;
    let (status, body) = cluster
        .put(0, "k", "v", "", Some(&lww_context(ahead)))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("max_clock_offset"),
        "{body}"
    );
    assert_eq!(
        cluster
            .metric(
                0,
                "converge_clock_offset_rejections_total{source=\"client\"}"
            )
            .await,
        Some(1.0)
    );
    // The clock was not dragged: a plain write gets a present-day timestamp.
    let (status, body) = cluster.put(0, "k", "v", "", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(decode_lww(&body["context"]).physical_us < now_us() + 5_000_000);
}

/// A peer whose clock runs beyond `max_clock_offset` ahead is refused, not
/// followed: its frames would drag this node's clock, and every LWW
/// timestamp it stamps afterwards, into the future with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_clock_beyond_the_max_offset_is_refused_not_followed() {
    let config = "[cluster]\nrf = 2\nr = 1\nw = 2\nmax_clock_offset = \"10s\"\n";
    let cluster = Cluster::start(2, config).await;
    cluster.set_clock_offset(1, 3_600_000).await;
    // n2's write reaches n1 stamped an hour ahead: n1 does not ack it.
    let (status, body) = cluster.put(1, "k", "from-the-future", "?w=2", None).await;
    assert_eq!(status, 503, "{body}");
    let refused = cluster
        .metric(0, "converge_clock_offset_rejections_total{source=\"peer\"}")
        .await;
    assert!(refused >= Some(1.0), "{refused:?}");
    // n1's own writes are still stamped with the present.
    let (status, body) = cluster.put(0, "k2", "v", "?w=1", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(decode_lww(&body["context"]).physical_us < now_us() + 5_000_000);
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Writes `n` values of about 200 bytes over 200 keys through n1 from 8
/// concurrent clients.
async fn write_load(cluster: &Cluster, n: usize) {
    cluster
        .put_concurrently(8, n, |i| {
            (
                0,
                format!("key-{}", i % 200),
                format!("value-{i}-{}", "x".repeat(200)),
            )
        })
        .await;
}

/// With anti-entropy off nothing drains the Merkle change queue, so every
/// write used to leave an entry in memory for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_under_a_long_write_load_with_anti_entropy_off() {
    let config = "[cluster]\nrf = 3\nr = 1\nw = 1\n[anti_entropy]\nmode = \"off\"\n";
    let cluster = Cluster::start(3, config).await;
    let pid = cluster.children[0].as_ref().unwrap().id();
    write_load(&cluster, 4_000).await;
    let warm = rss_kib(pid);
    write_load(&cluster, 20_000).await;
    let grown = rss_kib(pid).saturating_sub(warm);
    eprintln!("n1 RSS after warm-up {warm} KiB; growth over 20,000 more writes {grown} KiB");
    let pending = cluster
        .metric(0, "converge_anti_entropy_pending_changes")
        .await;
    assert_eq!(pending, Some(0.0), "anti-entropy is off: nothing to queue");
    // 20,000 queued changes cost several MiB; the redb cache of 200 keys does
    // not grow. 32 MiB is a generous margin for allocator noise.
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB after warm-up");
    eventually(Duration::from_secs(5), "node still healthy", || async {
        cluster
            .client
            .get(cluster.url(0, "/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

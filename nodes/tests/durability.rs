//! `fsync = "always"`: every acknowledged write survives kill -9.

mod support;

use support::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_minus_nine() {
    let config = "[cluster]\nrf = 1\nr = 1\nw = 1\n[storage]\nfsync = \"always\"\n";
    let mut cluster = Cluster::start(1, config).await;

    // 16 concurrent writers: exercises group commit, not one write at a time.
    let mut acked = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..16 {
        let client = cluster.client.clone();
        let base = cluster.url(0, "/kv/");
        tasks.spawn(async move {
            let mut mine = Vec::new();
            for i in 0..25 {
                let key = format!("w{writer}-{i}");
                let r = client
                    .put(format!("{base}{key}"))
                    .json(&serde_json::json!({ "value": format!("value-{writer}-{i}") }))
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    mine.push(key);
                }
            }
            mine
        });
    }
    while let Some(done) = tasks.join_next().await {
        acked.extend(done.unwrap());
    }
    assert_eq!(acked.len(), 400);

    cluster.kill(0);
    cluster.restart(0).await;

    let dump = cluster.dump(0).await;
    for key in &acked {
        let (writer, i) = key[1..].split_once('-').unwrap();
        assert_eq!(
            dump[key]["values"][0],
            format!("value-{writer}-{i}"),
            "lost acknowledged write {key}"
        );
    }
    assert_eq!(cluster.metric(0, "converge_keys_live").await, Some(400.0));
}

/// A restarted node scans for expired tombstones at once, not at a random
/// moment within the next scan interval: it may have missed a scan while
/// down, and waiting up to another interval (60 s at this grace) kept a
/// crashed replica's tombstones alive past the moment a test counted on
/// their purge. The tombstone is written while the node's clock runs 11
/// minutes behind, so it is young by the node's clock until the restart
/// resets the offset to 0 (docs/node-api.md), when it is a minute past its
/// 10-minute grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_purges_expired_tombstones_at_once() {
    let config = "[cluster]\nrf = 1\nr = 1\nw = 1\n[storage]\nfsync = \"always\"\n\
                  [tombstones]\ngc_grace = \"10m\"\n[hints]\nenabled = false\n\
                  [anti_entropy]\nmode = \"off\"\n";
    let mut cluster = Cluster::start(1, config).await;
    cluster.set_clock_offset(0, -11 * 60 * 1000).await;
    assert_eq!(cluster.put(0, "k", "v", "", None).await.0, 200);
    assert_eq!(cluster.delete(0, "k", "", None).await.0, 200);
    assert_eq!(cluster.dump(0).await["k"]["tombstone"], true);

    cluster.kill(0);
    cluster.restart(0).await;
    // Not a timing target: the deadline only has to be short against the
    // 60 s the old first scan could take (it failed 5 runs in 6).
    support::eventually(
        std::time::Duration::from_secs(10),
        "the restarted node purged the expired tombstone",
        || async { !cluster.dump(0).await.contains_key("k") },
    )
    .await;
    assert_eq!(
        cluster.metric(0, "converge_tombstones_purged_total").await,
        Some(1.0)
    );
}

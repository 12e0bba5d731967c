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

//! The 4xx cases, admin endpoints and metrics of docs/node-api.md, against
//! real node processes.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::{Cluster, eventually, values};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_4xx_and_never_a_dropped_connection() {
    let cluster = Cluster::start(3, "[cluster]\nrequest_timeout = \"2s\"\n").await;
    let c = &cluster.client;
    let url = |p: &str| cluster.url(0, p);
    let expect = |status: u16, what: &str, r: reqwest::Response| {
        assert_eq!(r.status().as_u16(), status, "{what}");
        r
    };
    async fn error_of(r: reqwest::Response) -> String {
        let body: Value = r.json().await.unwrap();
        body["error"].as_str().unwrap().to_string()
    }

    let r = expect(400, "empty key", c.get(url("/kv/")).send().await.unwrap());
    assert!(error_of(r).await.contains("empty"));
    let long_key = "k".repeat(1025);
    let r = expect(
        400,
        "long key",
        c.get(url(&format!("/kv/{long_key}"))).send().await.unwrap(),
    );
    assert!(error_of(r).await.contains("1025"));
    let ok_key = "k".repeat(1024);
    expect(
        200,
        "1024-byte key",
        c.put(url(&format!("/kv/{ok_key}")))
            .json(&json!({"value": "v"}))
            .send()
            .await
            .unwrap(),
    );

    let big = "x".repeat(1024 * 1024 + 1);
    expect(
        400,
        "oversized value",
        c.put(url("/kv/a"))
            .json(&json!({"value": big}))
            .send()
            .await
            .unwrap(),
    );
    expect(
        400,
        "empty value",
        c.put(url("/kv/a"))
            .json(&json!({"value": ""}))
            .send()
            .await
            .unwrap(),
    );
    expect(
        400,
        "bad JSON",
        c.put(url("/kv/a")).body("{not json").send().await.unwrap(),
    );
    expect(
        400,
        "missing value",
        c.put(url("/kv/a"))
            .json(&json!({"context": ""}))
            .send()
            .await
            .unwrap(),
    );
    expect(
        400,
        "bad context",
        c.put(url("/kv/a"))
            .json(&json!({"value": "v", "context": "%%%"}))
            .send()
            .await
            .unwrap(),
    );
    expect(
        400,
        "bad delete context",
        c.delete(url("/kv/a"))
            .json(&json!({"context": "Ag"}))
            .send()
            .await
            .unwrap(),
    );
    for q in ["?r=0", "?r=4", "?r=two"] {
        expect(
            400,
            q,
            c.get(url(&format!("/kv/a{q}"))).send().await.unwrap(),
        );
    }
    expect(
        400,
        "w=4",
        c.put(url("/kv/a?w=4"))
            .json(&json!({"value": "v"}))
            .send()
            .await
            .unwrap(),
    );
    let r = expect(
        404,
        "unknown path",
        c.get(url("/nope")).send().await.unwrap(),
    );
    assert_eq!(error_of(r).await, "not found");
    let r = expect(
        405,
        "wrong method",
        c.post(url("/kv/a")).send().await.unwrap(),
    );
    assert!(!error_of(r).await.is_empty());

    // Keys with reserved characters survive percent-encoding.
    let (status, _) = cluster.put(1, "a%2Fb%20c%3F", "slashy", "", None).await;
    assert_eq!(status, 200);
    let (status, body) = cluster.get(2, "a%2Fb%20c%3F", "").await;
    assert_eq!((status, values(&body)), (200, vec!["slashy".to_string()]));
    assert_eq!(body["key"], "a/b c?");

    // And the node still serves normally afterwards.
    let (status, _) = cluster.get(0, "a", "").await;
    assert_eq!(status, 404);
    let bad = cluster
        .metric(0, "converge_ops_total{op=\"put\",result=\"bad_request\"}")
        .await
        .unwrap();
    assert!(bad >= 5.0, "bad_request counted: {bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_clock_dump_health_and_tombstone_gc() {
    let config = "[tombstones]\ngc_grace = \"1s\"\n[cluster]\nrequest_timeout = \"2s\"\n";
    let cluster = Cluster::start(3, config).await;
    let c = &cluster.client;

    let health: Value = c
        .get(cluster.url(1, "/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"id": "n2", "status": "ok"}));

    let clock: Value = c
        .get(cluster.url(0, "/admin/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock, json!({"offset_ms": 0}));
    let r = c
        .put(cluster.url(0, "/admin/clock"))
        .json(&json!({"offset_ms": -1500}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let clock: Value = c
        .get(cluster.url(0, "/admin/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock, json!({"offset_ms": -1500}));
    assert_eq!(
        cluster.metric(0, "converge_clock_offset_ms").await,
        Some(-1500.0)
    );
    let r = c
        .put(cluster.url(0, "/admin/clock"))
        .body("{\"offset\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    for i in 0..5 {
        assert_eq!(
            cluster.put(1, &format!("k{i}"), "v", "?w=3", None).await.0,
            200
        );
    }
    assert_eq!(cluster.delete(1, "k0", "?w=3", None).await.0, 200);
    let dump = cluster.dump(2).await;
    assert_eq!(dump.len(), 5);
    assert_eq!(dump["k0"]["tombstone"], true);
    assert_eq!(dump["k0"]["values"], json!([]));
    assert_eq!(dump["k1"]["tombstone"], false);
    assert_eq!(dump["k1"]["values"], json!(["v"]));
    assert!(dump["k1"]["version"].is_object());
    assert_eq!(cluster.metric(2, "converge_keys_live").await, Some(4.0));

    // gc_grace = 1s: the tombstone is purged everywhere, counted, and the
    // live keys are untouched.
    eventually(
        Duration::from_secs(15),
        "tombstone purged on every replica",
        || async {
            let mut all = true;
            for i in 0..3 {
                all &= cluster.metric(i, "converge_tombstones_purged_total").await == Some(1.0)
                    && cluster.metric(i, "converge_tombstones_live").await == Some(0.0);
            }
            all
        },
    )
    .await;
    let dump = cluster.dump(0).await;
    assert!(!dump.contains_key("k0"));
    assert_eq!(dump.len(), 4);
}

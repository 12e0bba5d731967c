//! `conflict = "dvv"` end to end: concurrent writes become siblings, a write
//! with a read's context resolves them, deletes with context stick.

mod support;

use support::{Cluster, values};

const CONFIG: &str = "[cluster]\nconflict = \"dvv\"\nrequest_timeout = \"2s\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_siblings_until_a_context_resolves_them() {
    let cluster = Cluster::start(3, CONFIG).await;

    // Two blind writes through different coordinators: both survive.
    assert_eq!(cluster.put(0, "cart", "apple", "?w=3", None).await.0, 200);
    assert_eq!(cluster.put(1, "cart", "pear", "?w=3", None).await.0, 200);
    let (status, body) = cluster.get(2, "cart", "?r=3").await;
    assert_eq!(status, 200);
    let mut siblings = values(&body);
    siblings.sort();
    assert_eq!(siblings, vec!["apple".to_string(), "pear".to_string()]);

    // A write carrying the read's context supersedes both.
    let context = body["context"].as_str().unwrap().to_string();
    let (status, put) = cluster
        .put(2, "cart", "apple+pear", "?w=3", Some(&context))
        .await;
    assert_eq!(status, 200);
    let (_, body) = cluster.get(0, "cart", "?r=2").await;
    assert_eq!(values(&body), vec!["apple+pear".to_string()]);

    // A write with the PUT's returned context supersedes exactly that write,
    // not a concurrent one it never saw.
    assert_eq!(
        cluster.put(1, "cart", "concurrent", "?w=3", None).await.0,
        200
    );
    let returned = put["context"].as_str().unwrap();
    assert_eq!(
        cluster
            .put(0, "cart", "next", "?w=3", Some(returned))
            .await
            .0,
        200
    );
    let (_, body) = cluster.get(2, "cart", "?r=3").await;
    let mut siblings = values(&body);
    siblings.sort();
    assert_eq!(siblings, vec!["concurrent".to_string(), "next".to_string()]);

    // Delete with the read context: gone everywhere, tombstone in the dump.
    let context = body["context"].as_str().unwrap().to_string();
    assert_eq!(
        cluster.delete(1, "cart", "?w=3", Some(&context)).await.0,
        200
    );
    let (status, body) = cluster.get(0, "cart", "?r=3").await;
    assert_eq!(status, 404, "{body}");
    for i in 0..3 {
        assert_eq!(cluster.dump(i).await["cart"]["tombstone"], true);
    }

    // An LWW context is refused by a DVV cluster.
    let lww_context = "AAA"; // postcard of ClientContext::Lww(None)
    let (status, _) = cluster.put(0, "cart", "x", "", Some(lww_context)).await;
    assert_eq!(status, 400);
}

//! Internode behaviour under the harness's kind of faults: links that hang
//! silently, and peers whose cluster settings disagree.

mod support;

use std::time::{Duration, Instant};
use support::{Cluster, eventually, values};

const CONFIG: &str = "[cluster]\nrequest_timeout = \"1s\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_links_time_out_and_reconnect_after_heal() {
    let cluster = Cluster::start_custom(vec![CONFIG.to_string(); 3], true).await;
    assert_eq!(cluster.put(0, "k", "before", "?w=3", None).await.0, 200);

    // Isolate n3: its links go silent without any reset.
    cluster.set_link(2, 0, false);
    cluster.set_link(2, 1, false);

    let started = Instant::now();
    let (status, _) = cluster.put(0, "k", "majority", "?w=2", None).await;
    assert_eq!(status, 200, "the majority side still reaches W=2");
    let (status, body) = cluster.put(2, "k", "minority", "?w=2", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["acked"], 1);
    let (status, _) = cluster.get(2, "k", "?r=2").await;
    assert_eq!(status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "requests must not hang on a silent link"
    );

    // Heal: the nodes drop the hung connections and redial by themselves.
    cluster.set_link(2, 0, true);
    cluster.set_link(2, 1, true);
    eventually(
        Duration::from_secs(20),
        "full quorum through n3 after heal",
        || async { cluster.put(2, "k", "after", "?w=3", None).await.0 == 200 },
    )
    .await;
    let (status, body) = cluster.get(0, "k", "?r=3").await;
    assert_eq!((status, values(&body)), (200, vec!["after".to_string()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_with_different_cluster_settings_refuse_each_other() {
    let odd = "[cluster]\nrequest_timeout = \"1s\"\nvnodes = 32\n".to_string();
    let cluster = Cluster::start_with(vec![CONFIG.to_string(), CONFIG.to_string(), odd]).await;

    // n1 and n2 agree; n3 is refused, so W=3 can never be met.
    assert_eq!(cluster.put(0, "k", "v", "?w=2", None).await.0, 200);
    let (status, body) = cluster.put(0, "k", "v", "?w=3", None).await;
    assert_eq!(status, 503, "{body}");
    eventually(Duration::from_secs(10), "the refusal is logged", || async {
        cluster.log(2).contains("vnodes differs") || cluster.log(0).contains("vnodes differs")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_config_is_one_line_naming_the_field_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[cluster]\nrf = \"three\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_converge-node"))
        .args([
            "--id",
            "n1",
            "--listen",
            "127.0.0.1:1",
            "--peer-listen",
            "127.0.0.1:2",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cluster.rf"), "{stderr}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_converge-node"))
        .args([
            "--id",
            "n1",
            "--listen",
            "nope",
            "--peer-listen",
            "127.0.0.1:2",
            "--data-dir",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_converge-node"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--id",
        "--listen",
        "--peer-listen",
        "--peer",
        "--data-dir",
        "--config",
    ] {
        assert!(help.contains(flag), "--help documents {flag}");
    }
}

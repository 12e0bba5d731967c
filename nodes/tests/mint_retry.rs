//! A DVV write whose mint may have been applied must not be minted again on
//! another replica: one client write would become two siblings. A real
//! `converge-node` coordinates; its two peers are fakes speaking the
//! internode protocol, so the test decides exactly what each replica does.

mod support;

use bytes::Bytes;
use converge_node::peer::protocol::{Frame, PeerRequest, PeerResponse, codec};
use converge_node::ring::Ring;
use converge_node::types::{Key, NodeId};
use converge_node::version::{DvvRecord, Record};
use futures_util::{SinkExt, StreamExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

/// What a fake replica does with a `Mint`.
#[derive(Clone, Copy)]
enum OnMint {
    /// "Applies" it, then drops the connection before answering: the
    /// coordinator cannot know whether the write happened.
    ApplyThenDrop,
    /// Mints and answers.
    Answer,
}

/// Accepts connections as peer `me`, welcomes every dialler, and counts the
/// mints it receives.
async fn fake_replica(
    listener: TcpListener,
    me: &'static str,
    on_mint: OnMint,
    mints: Arc<AtomicUsize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let mints = mints.clone();
        tokio::spawn(async move {
            let mut framed = Framed::new(stream, codec());
            let Some(Ok(_hello)) = framed.next().await else {
                return;
            };
            let welcome = Frame::Welcome.to_bytes().unwrap();
            if framed.send(welcome).await.is_err() {
                return;
            }
            while let Some(Ok(bytes)) = framed.next().await {
                let Ok(Frame::Request { id, clock, body }) = Frame::from_bytes(&bytes) else {
                    return;
                };
                let body = match body {
                    PeerRequest::Mint {
                        context,
                        value,
                        written_ms,
                        ..
                    } => {
                        mints.fetch_add(1, Ordering::SeqCst);
                        if let OnMint::ApplyThenDrop = on_mint {
                            return;
                        }
                        let (record, context) =
                            DvvRecord::mint(None, &context, &NodeId::new(me), value, written_ms)
                                .unwrap();
                        PeerResponse::Minted {
                            record: Record::Dvv(record),
                            context,
                        }
                    }
                    PeerRequest::Read { .. } => PeerResponse::Read(None),
                    PeerRequest::Merge { .. } => PeerResponse::Merged,
                    _ => PeerResponse::Failed("not faked".into()),
                };
                let frame = Frame::Response { id, clock, body };
                let bytes: Bytes = frame.to_bytes().unwrap();
                if framed.send(bytes).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mint_that_may_have_been_applied_is_not_minted_again_elsewhere() {
    let ids: Vec<NodeId> = ["n1", "n2", "n3"].map(NodeId::new).to_vec();
    let ring = Ring::new(&ids, 64, 2);
    // A key n1 (the real node, the coordinator) does not replicate.
    let (key, replicas) = (0..)
        .map(|i| Key::parse(&format!("k{i}")).unwrap())
        .map(|k| {
            let replicas = ring.preference_list(&k);
            (k, replicas)
        })
        .find(|(_, r)| !r.contains(&ids[0]))
        .unwrap();
    let first = replicas[0].clone();

    let mut peer_args = Vec::new();
    let mut mints = Vec::new();
    for (id, name) in [(&ids[1], "n2"), (&ids[2], "n3")] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        peer_args.push(format!(
            "{name}=127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        ));
        let on_mint = if *id == first {
            OnMint::ApplyThenDrop
        } else {
            OnMint::Answer
        };
        let count = Arc::new(AtomicUsize::new(0));
        mints.push((id.clone(), count.clone()));
        tokio::spawn(fake_replica(listener, name, on_mint, count));
    }

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("n1.toml");
    std::fs::write(
        &config,
        "[cluster]\nrf = 2\nr = 1\nw = 1\nconflict = \"dvv\"\nrequest_timeout = \"2s\"\n\
         [anti_entropy]\nmode = \"off\"\n[hints]\nenabled = false\n",
    )
    .unwrap();
    let http = support::free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_converge-node"));
    cmd.args(["--id", "n1", "--listen", &format!("127.0.0.1:{http}")])
        .args([
            "--peer-listen",
            &format!("127.0.0.1:{}", support::free_port()),
        ])
        .arg("--data-dir")
        .arg(dir.path().join("n1"))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for p in &peer_args {
        cmd.args(["--peer", p]);
    }
    let mut child = cmd.spawn().unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "n1 never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let r = client
        .put(format!("{base}/kv/{}", key.as_str()))
        .json(&serde_json::json!({ "value": "once" }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let _ = child.kill();
    let _ = child.wait();
    let minted: Vec<(String, usize)> = mints
        .iter()
        .map(|(id, n)| (id.to_string(), n.load(Ordering::SeqCst)))
        .collect();
    // The first replica may have applied the write: the answer is the
    // indeterminate 503, and nobody else mints it a second time.
    assert_eq!(status, 503, "mints per replica: {minted:?}");
    let total: usize = minted.iter().map(|(_, n)| n).sum();
    assert_eq!(
        total, 1,
        "one client write was minted {total} times: {minted:?}"
    );
}

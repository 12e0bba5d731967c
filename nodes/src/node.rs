//! Wiring: opens storage, binds both listeners, connects the parts, and runs
//! until shutdown is requested; then stops accepting, finishes in-flight
//! requests, and makes storage durable before returning.
//!
//! A dead storage writer also stops the node (exit 1, logged): every write
//! would fail from then on, and a node that keeps answering `/health` and
//! reads while it cannot write is worse than one that is visibly down.

use crate::anti_entropy::AntiEntropy;
use crate::cli::Cli;
use crate::clock::NodeClock;
use crate::config::Config;
use crate::coordinator::Coordinator;
use crate::hints::Hints;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::peer::{ClusterSettings, PeerClient};
use crate::replica::LocalReplica;
use crate::ring::Ring;
use crate::storage::{PurgeHorizon, StorageError, Store, StoreOptions};
use crate::types::NodeId;
use crate::{gc, peer};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// A failure that stops the node (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot open storage: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot bind {what} address {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    AntiEntropy(String),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("stopping: {0}")]
    WriterDied(String),
    #[cfg(feature = "zoo")]
    #[error("{0}")]
    Zoo(#[from] crate::zoo::AlreadyActive),
}

/// Runs the node until `shutdown` resolves.
pub async fn run(
    cli: Cli,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    for warning in config.safety_warnings() {
        tracing::warn!("{warning}");
    }
    // zoo: the one injected bug of this process, before anything runs.
    #[cfg(feature = "zoo")]
    match cli.zoo_bug {
        Some(bug) => {
            crate::zoo::activate(bug)?;
            tracing::warn!(bug = %bug.name(), "zoo build: injected bug active, this node is deliberately broken");
        }
        None => tracing::info!("zoo build: no zoo bug active, behaving as the reference node"),
    }
    let metrics = Arc::new(Metrics::new());
    let clock = Arc::new(NodeClock::with_max_offset(config.cluster.max_clock_offset));
    let cluster = &config.cluster;
    let mut members: Vec<NodeId> = cli.peers.iter().map(|p| p.id.clone()).collect();
    members.push(cli.id.clone());
    members.sort();
    let ring = Ring::new(&members, cluster.vnodes, cluster.rf);
    let anti_entropy = Arc::new(
        AntiEntropy::new(
            config.anti_entropy.clone(),
            cli.id.clone(),
            ring.clone(),
            cluster.request_timeout,
        )
        .map_err(NodeError::AntiEntropy)?,
    );
    let store = Store::open(
        StoreOptions {
            dir: &cli.data_dir,
            id: &cli.id,
            mode: cluster.conflict,
            fsync: config.storage.fsync,
            fsync_interval: std::time::Duration::from_millis(config.storage.fsync_interval_ms),
            purge_horizon: Some(PurgeHorizon {
                clock: clock.clone(),
                gc_grace: config.tombstones.gc_grace,
            }),
        },
        metrics.clone(),
        Some(anti_entropy.clone()),
    )?;
    // Rebuild the Merkle trees from storage before serving anything.
    anti_entropy.attach(store.clone())?;
    // Never stamp a write below one already stored (see crate::clock).
    if let Some(latest) = store.max_stored_timestamp() {
        clock.observe(latest);
    }
    tracing::info!(actor = %store.incarnation().actor(), "DVV incarnation");
    let settings = Arc::new(ClusterSettings {
        rf: cluster.rf,
        conflict: cluster.conflict,
        vnodes: cluster.vnodes,
        members,
    });
    let local = LocalReplica {
        id: cli.id.clone(),
        store: store.clone(),
        clock: clock.clone(),
        anti_entropy: anti_entropy.clone(),
    };

    let peer_listener = tokio::net::TcpListener::bind(cli.peer_listen)
        .await
        .map_err(|source| NodeError::Bind {
            what: "peer",
            addr: cli.peer_listen,
            source,
        })?;
    let http_listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .map_err(|source| NodeError::Bind {
            what: "client",
            addr: cli.listen,
            source,
        })?;

    let peers: HashMap<NodeId, Arc<PeerClient>> = cli
        .peers
        .iter()
        .map(|p| {
            let client = PeerClient::new(
                cli.id.clone(),
                p.id.clone(),
                p.addr.clone(),
                (*settings).clone(),
                clock.clone(),
                cluster.request_timeout,
            );
            (p.id.clone(), Arc::new(client))
        })
        .collect();
    let peer_ids: Vec<NodeId> = cli.peers.iter().map(|p| p.id.clone()).collect();
    let hints = Arc::new(Hints::open(
        config.hints.clone(),
        store.clone(),
        clock.clone(),
        metrics.clone(),
        &peer_ids,
    )?);
    let replayer = tokio::spawn(
        hints
            .clone()
            .run_replay(peers.clone(), cluster.request_timeout),
    );
    let scheduler = tokio::spawn(anti_entropy.clone().run_scheduler(peers.clone()));
    let coordinator = Arc::new(Coordinator {
        me: cli.id.clone(),
        ring,
        local: local.clone(),
        peers,
        mode: cluster.conflict,
        request_timeout: cluster.request_timeout,
        clock: clock.clone(),
        read_repair: config.read_repair.clone(),
        hints,
        metrics: metrics.clone(),
    });

    let peer_server = tokio::spawn(peer::server::serve(peer_listener, local, settings));
    let compactor = tokio::spawn(gc::run(
        store.clone(),
        clock.clone(),
        config.tombstones.gc_grace,
    ));

    let state = AppState {
        id: cli.id.clone(),
        coordinator,
        anti_entropy,
        store: store.clone(),
        clock,
        metrics,
        mode: cluster.conflict,
        rf: cluster.rf,
        default_r: cluster.r,
        default_w: cluster.w,
    };
    tracing::info!(id = %cli.id, listen = %cli.listen, peer_listen = %cli.peer_listen, "node ready");
    let writer_death: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let stop = {
        let (store, writer_death) = (store.clone(), writer_death.clone());
        async move {
            tokio::select! {
                () = shutdown => {}
                why = store.writer_failed() => {
                    tracing::error!(reason = %why, "shutting down: the storage writer died");
                    *writer_death.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
                }
            }
        }
    };
    let served = axum::serve(http_listener, http::router(state))
        .with_graceful_shutdown(stop)
        .await;

    peer_server.abort();
    compactor.abort();
    replayer.abort();
    scheduler.abort();
    if let Err(e) = store.shutdown().await {
        tracing::error!(error = %e, "final storage sync failed");
    }
    tracing::info!("node stopped");
    if let Some(why) = writer_death
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(NodeError::WriterDied(why));
    }
    served.map_err(NodeError::Serve)
}

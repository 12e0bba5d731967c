//! Tombstone compaction: purge tombstones older than `tombstones.gc_grace`.
//!
//! Age is measured on this node's clock, offset included, against the time
//! the tombstone was written (its LWW timestamp, or its DVV sibling's write
//! time), so skewing a node's clock forward makes it purge early — which is
//! exactly the fault the harness wants to be able to inject. A purge is
//! conditional: if the key changed since the scan, it is left alone.

use crate::clock::NodeClock;
use crate::storage::Store;
use std::sync::Arc;
use std::time::Duration;

/// How often to scan for a given grace: often enough that a short grace in a
/// test is honoured promptly, never more than once a minute for real ones.
pub fn scan_interval(gc_grace: Duration) -> Duration {
    (gc_grace / 2).clamp(Duration::from_millis(100), Duration::from_secs(60))
}

/// Runs compaction forever (until the task is aborted).
pub async fn run(store: Store, clock: Arc<NodeClock>, gc_grace: Duration) {
    // zoo: gc-ignores-grace — purge tombstones at once (and scan as often
    // as the shortest grace would).
    #[cfg(feature = "zoo")]
    let gc_grace = if crate::zoo::active(crate::zoo::Bug::GcIgnoresGrace) {
        Duration::ZERO
    } else {
        gc_grace
    };
    // The first regular scan comes at a random moment within one interval,
    // not at start: nodes started together would otherwise purge each
    // tombstone in the same instant, and no replica would ever hold a
    // tombstone its peers had purged (the stretch where a tombstone GC bug
    // shows). A restarted node first catches up with one scan at once: it
    // may have missed one while down, and waiting up to another interval
    // kept a crashed replica's tombstones alive past the heal that should
    // have found them purged. Its regular scans keep a random phase all the
    // same: the harness restarts nodes at fixed offsets of its cycle, so
    // scans anchored to the restart would run in lockstep on nodes
    // restarted two intervals apart. Either way a tombstone is purged at
    // most one interval after its grace on a node that is up.
    let every = scan_interval(gc_grace);
    if store.reopened() {
        scan(&store, &clock, gc_grace).await;
    }
    let first = tokio::time::Instant::now() + crate::jitter::below(every);
    let mut ticker = tokio::time::interval_at(first, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        scan(&store, &clock, gc_grace).await;
    }
}

/// One scan, logged.
async fn scan(store: &Store, clock: &NodeClock, gc_grace: Duration) {
    match purge_expired(store, clock, gc_grace).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "purged expired tombstones"),
        Err(e) => tracing::error!(error = %e, "tombstone compaction failed"),
    }
}

/// One compaction pass; returns how many tombstones were purged.
pub async fn purge_expired(
    store: &Store,
    clock: &NodeClock,
    gc_grace: Duration,
) -> Result<usize, crate::storage::StorageError> {
    let now_ms = clock.wall_ms();
    let grace_ms = gc_grace.as_millis() as u64;
    let scanner = store.clone();
    let expired = tokio::task::spawn_blocking(move || {
        let mut expired = Vec::new();
        scanner
            .scan(|key, record| {
                if record.purgeable(now_ms, grace_ms) {
                    expired.push((key, record));
                }
            })
            .map(|()| expired)
    })
    .await
    .map_err(|e| crate::storage::StorageError::Engine(e.to_string()))??;
    let mut purged = 0;
    for (key, record) in expired {
        if store.purge_if_unchanged(key, record).await? {
            purged += 1;
        }
    }
    Ok(purged)
}

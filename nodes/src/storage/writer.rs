//! The single storage writer: group commit.
//!
//! One OS thread drains the queue of pending mutations and applies a whole
//! batch in one write transaction, so under `fsync = "always"` N concurrent
//! writers share one fsync instead of paying N. Replies are sent only after
//! the commit returns, so an acknowledgement under `always` means the write
//! is on disk.
//!
//! Under `interval` batches commit with `Durability::None` (visible to
//! readers at once, not yet on disk) and the writer issues a durable commit
//! at most `fsync_interval` after the first non-durable one. Under `never`
//! the same happens every [`NEVER_CHECKPOINT`]: redb keeps non-durable
//! commits' bookkeeping in memory until a durable commit, so some checkpoint
//! is needed to bound memory.
//!
//! The change observer (anti-entropy's Merkle trees) is told about a batch's
//! changes only after its commit succeeded: a failed commit must not leave
//! the trees describing data that was never stored.
//!
//! A panic in the thread is caught and reported through a watch channel so
//! the node can fail `/health` and stop; the queue's receiver drops with the
//! thread, so every later write fails fast with `WriterGone`.

use super::incarnation::{Incarnation, META_CLEAN_SHUTDOWN, META_INCARNATION};
use super::{ChangeObserver, HINTS, META, RECORDS, StorageError, WriteOp, engine};
use crate::config::FsyncPolicy;
use crate::metrics::Metrics;
use crate::types::Key;
use crate::version::{DvvRecord, Record, RecordState};
use redb::{Database, Durability, ReadableTable, Table};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Largest batch committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Checkpoint period under `fsync = "never"`.
const NEVER_CHECKPOINT: Duration = Duration::from_secs(10);
/// How long the writer sleeps when nothing is pending.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// How the writer commits, and as whom it mints.
pub(super) struct Settings {
    pub fsync: FsyncPolicy,
    pub fsync_interval: Duration,
    pub incarnation: Incarnation,
}

/// Starts the writer thread; returns the queue that feeds it and a channel
/// that turns `Some(why)` if the thread dies.
pub(super) fn spawn(
    db: Arc<Database>,
    settings: Settings,
    metrics: Arc<Metrics>,
    observer: Option<Arc<dyn ChangeObserver>>,
) -> Result<(mpsc::Sender<WriteOp>, watch::Receiver<Option<String>>), StorageError> {
    let (tx, rx) = mpsc::channel();
    let (health_tx, health_rx) = watch::channel(None);
    let writer = Writer {
        db: Some(db),
        fsync: settings.fsync,
        fsync_interval: settings.fsync_interval,
        incarnation: settings.incarnation,
        metrics,
        observer,
        unsynced_since: None,
    };
    std::thread::Builder::new()
        .name("storage-writer".into())
        .spawn(move || {
            // The writer holds no lock another thread could find poisoned;
            // what matters is that its death is seen, not hidden.
            let run = std::panic::AssertUnwindSafe(move || writer.run(rx));
            if let Err(panic) = std::panic::catch_unwind(run) {
                let why = panic_message(panic.as_ref());
                tracing::error!(reason = %why, "the storage writer died; every write will fail");
                let _ = health_tx.send(Some(format!("storage writer died: {why}")));
            }
        })
        .map_err(|e| engine(format!("spawn writer thread: {e}")))?;
    Ok((tx, health_rx))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_owned()
    }
}

struct Writer {
    /// `None` once shut down (dropped before replying so the file is closed).
    db: Option<Arc<Database>>,
    fsync: FsyncPolicy,
    fsync_interval: Duration,
    /// The actor minted dots carry; renewed when GC purges its dots.
    incarnation: Incarnation,
    metrics: Arc<Metrics>,
    /// Told about every change (anti-entropy's trees).
    observer: Option<Arc<dyn ChangeObserver>>,
    /// When the oldest commit not yet made durable happened.
    unsynced_since: Option<Instant>,
}

/// A reply to send once the batch's commit has returned.
enum Reply {
    Done(tokio::sync::oneshot::Sender<Result<(), StorageError>>),
    Merge(
        tokio::sync::oneshot::Sender<Result<Record, StorageError>>,
        Record,
    ),
    Mint(
        tokio::sync::oneshot::Sender<Result<(Record, crate::version::CausalContext), StorageError>>,
        (Record, crate::version::CausalContext),
    ),
    Purge(
        tokio::sync::oneshot::Sender<Result<bool, StorageError>>,
        bool,
    ),
    Failed(WriteOp, StorageError),
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<WriteOp>) {
        loop {
            let wait = match (self.fsync, self.unsynced_since) {
                (FsyncPolicy::Interval | FsyncPolicy::Always, Some(t)) => {
                    self.fsync_interval.saturating_sub(t.elapsed())
                }
                (FsyncPolicy::Never, Some(t)) => NEVER_CHECKPOINT.saturating_sub(t.elapsed()),
                _ => IDLE_WAIT,
            };
            let first = match rx.recv_timeout(wait) {
                Ok(op) => op,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.checkpoint_logged();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.checkpoint_logged();
                    return;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            let shutdown = batch
                .iter()
                .position(|op| matches!(op, WriteOp::Shutdown { .. }));
            let rest = shutdown.map(|i| batch.split_off(i));
            self.apply(batch);
            if let Some(rest) = rest {
                let result = self.mark_clean_shutdown();
                self.db = None;
                for op in rest {
                    match op {
                        WriteOp::Shutdown { reply } => {
                            let _ = reply.send(result.clone());
                        }
                        other => fail(other, StorageError::WriterGone),
                    }
                }
                return;
            }
        }
    }

    /// Applies and commits one batch, then answers every op in it.
    fn apply(&mut self, batch: Vec<WriteOp>) {
        if batch.is_empty() {
            return;
        }
        let Some(db) = self.db.clone() else {
            batch
                .into_iter()
                .for_each(|op| fail(op, StorageError::WriterGone));
            return;
        };
        let needs_sync = batch
            .iter()
            .any(|op| !matches!(op, WriteOp::Merge { durable: false, .. }));
        let durability = match self.fsync {
            FsyncPolicy::Always if needs_sync => Durability::Immediate,
            _ => Durability::None,
        };
        let mut gauge_delta = GaugeDelta::default();
        let mut changes: Vec<(Key, Option<Record>)> = Vec::new();
        let incarnation = &mut self.incarnation;
        let result = (|| -> Result<Vec<Reply>, StorageError> {
            let mut txn = db.begin_write().map_err(engine)?;
            txn.set_durability(durability).map_err(engine)?;
            let mut replies = Vec::with_capacity(batch.len());
            {
                let mut table = txn.open_table(RECORDS).map_err(engine)?;
                let mut hints = txn.open_table(HINTS).map_err(engine)?;
                let mut meta = txn.open_table(META).map_err(engine)?;
                for op in batch {
                    let reply = match op {
                        WriteOp::PutHint { id, hint, reply } => {
                            match hints.insert(id.as_slice(), hint.as_slice()) {
                                Ok(_) => Reply::Done(reply),
                                Err(e) => {
                                    Reply::Failed(WriteOp::PutHint { id, hint, reply }, engine(e))
                                }
                            }
                        }
                        WriteOp::DeleteHints { ids, reply } => {
                            let removed: Result<(), StorageError> = ids.iter().try_for_each(|id| {
                                hints.remove(id.as_slice()).map(|_| ()).map_err(engine)
                            });
                            match removed {
                                Ok(()) => Reply::Done(reply),
                                Err(e) => Reply::Failed(WriteOp::DeleteHints { ids, reply }, e),
                            }
                        }
                        other => apply_one(
                            &mut Tables {
                                records: &mut table,
                                meta: &mut meta,
                            },
                            other,
                            &mut gauge_delta,
                            &mut changes,
                            incarnation,
                        ),
                    };
                    replies.push(reply);
                }
            }
            txn.commit().map_err(engine)?;
            Ok(replies)
        })();
        match result {
            Ok(replies) => {
                gauge_delta.publish(&self.metrics);
                if let Some(observer) = &self.observer {
                    for (key, new) in &changes {
                        observer.changed(key, new.as_ref());
                    }
                }
                if matches!(durability, Durability::None) {
                    self.unsynced_since.get_or_insert_with(Instant::now);
                }
                for reply in replies {
                    reply.send();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storage commit failed; batch not applied");
                // The ops were consumed building replies that never got sent;
                // their reply channels drop, which callers see as WriterGone.
            }
        }
    }

    /// Makes all earlier non-durable commits durable (an empty durable
    /// commit does that in redb).
    fn checkpoint(&mut self) -> Result<(), StorageError> {
        let Some(db) = self.db.as_ref() else {
            return Ok(());
        };
        if self.unsynced_since.is_none() {
            return Ok(());
        }
        let mut txn = db.begin_write().map_err(engine)?;
        txn.set_durability(Durability::Immediate).map_err(engine)?;
        txn.commit().map_err(engine)?;
        self.unsynced_since = None;
        Ok(())
    }

    /// The last commit of a clean shutdown: durable, and marks the data dir
    /// as cleanly closed so the next start keeps this incarnation.
    fn mark_clean_shutdown(&mut self) -> Result<(), StorageError> {
        let Some(db) = self.db.as_ref() else {
            return Ok(());
        };
        let txn = db.begin_write().map_err(engine)?;
        {
            let mut meta = txn.open_table(META).map_err(engine)?;
            meta.insert(META_CLEAN_SHUTDOWN, "1").map_err(engine)?;
        }
        txn.commit().map_err(engine)?;
        self.unsynced_since = None;
        Ok(())
    }

    fn checkpoint_logged(&mut self) {
        if let Err(e) = self.checkpoint() {
            tracing::error!(error = %e, "storage checkpoint failed");
        }
    }
}

/// Live-key and tombstone gauge changes of one batch.
#[derive(Default)]
struct GaugeDelta {
    live: i64,
    tombstones: i64,
    purged: u64,
}

impl GaugeDelta {
    fn transition(&mut self, before: Option<RecordState>, after: Option<RecordState>) {
        for (state, sign) in [(before, -1), (after, 1)] {
            match state {
                Some(RecordState::Live) => self.live += sign,
                Some(RecordState::Tombstone) => self.tombstones += sign,
                None => {}
            }
        }
    }

    fn publish(&self, metrics: &Metrics) {
        metrics.keys_live.fetch_add(self.live, Ordering::Relaxed);
        metrics
            .tombstones_live
            .fetch_add(self.tombstones, Ordering::Relaxed);
        metrics
            .tombstones_purged
            .fetch_add(self.purged, Ordering::Relaxed);
    }
}

fn read_stored(table: &Table<&str, &[u8]>, key: &str) -> Result<Option<Record>, StorageError> {
    let Some(guard) = table.get(key).map_err(engine)? else {
        return Ok(None);
    };
    Record::from_bytes(guard.value())
        .map(Some)
        .map_err(|e| StorageError::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })
}

fn write_stored(
    table: &mut Table<&str, &[u8]>,
    key: &str,
    record: &Record,
) -> Result<(), StorageError> {
    let bytes = record.to_bytes().map_err(engine)?;
    table.insert(key, bytes.as_slice()).map_err(engine)?;
    Ok(())
}

/// The tables a record op touches inside the batch transaction.
struct Tables<'a, 't> {
    records: &'a mut Table<'t, &'static str, &'static [u8]>,
    meta: &'a mut Table<'t, &'static str, &'static str>,
}

/// Whether a tombstone arriving for a key with no stored record is one the
/// compactor would purge at once ([`super::PurgeHorizon`]), so storing it
/// would only start another round of the anti-entropy chase. A DVV tombstone
/// holding this incarnation's dots is stored all the same: only the
/// compactor's purge moves the node to a new incarnation, and forgetting
/// those dots without one would let the next write re-issue them.
fn purged_on_arrival(
    record: &Record,
    purge: Option<(u64, u64)>,
    incarnation: &Incarnation,
) -> bool {
    let Some((now_ms, grace_ms)) = purge else {
        return false;
    };
    record.purgeable(now_ms, grace_ms) && !holds_dots_of(record, incarnation)
}

/// Whether `record` holds dots minted under `incarnation`: forgetting it
/// (a purge) would let the next write to the key re-issue them.
fn holds_dots_of(record: &Record, incarnation: &Incarnation) -> bool {
    matches!(record, Record::Dvv(r) if r.context.max_counter(incarnation.actor()) > 0)
}

/// Applies one op inside the batch transaction. A failure of one op (e.g. a
/// corrupt record) fails that op only. Changed keys are appended to
/// `changes`, for the observer once the batch has committed.
fn apply_one(
    tables: &mut Tables<'_, '_>,
    op: WriteOp,
    delta: &mut GaugeDelta,
    changes: &mut Vec<(Key, Option<Record>)>,
    incarnation: &mut Incarnation,
) -> Reply {
    let table = &mut *tables.records;
    let mut notify = |key: &Key, new: Option<&Record>| changes.push((key.clone(), new.cloned()));
    match op {
        WriteOp::Merge {
            key,
            record,
            durable,
            purge,
            reply,
        } => {
            let result = (|| {
                let stored = read_stored(table, key.as_str())?;
                if stored.is_none() && purged_on_arrival(&record, purge, incarnation) {
                    delta.purged += 1;
                    return Ok(record.clone());
                }
                let merged = Record::merge_into(stored.as_ref(), &record);
                if stored.as_ref() != Some(&merged) {
                    write_stored(table, key.as_str(), &merged)?;
                    delta.transition(stored.map(|r| r.state()), Some(merged.state()));
                    notify(&key, Some(&merged));
                }
                Ok(merged)
            })();
            match result {
                Ok(merged) => Reply::Merge(reply, merged),
                Err(e) => Reply::Failed(
                    WriteOp::Merge {
                        key,
                        record,
                        durable,
                        purge,
                        reply,
                    },
                    e,
                ),
            }
        }
        WriteOp::Mint {
            key,
            client_context,
            value,
            written_ms,
            reply,
        } => {
            let result = (|| {
                let stored = read_stored(table, key.as_str())?;
                let local = match &stored {
                    Some(Record::Dvv(r)) => Some(r),
                    Some(Record::Lww(_)) => {
                        return Err(StorageError::Corrupt {
                            key: key.as_str().to_owned(),
                            reason: "LWW record in a DVV store".into(),
                        });
                    }
                    None => None,
                };
                let seen = &client_context;
                // zoo: dvv-ignores-context — the write supersedes every
                // sibling this replica holds, seen by the client or not.
                #[cfg(feature = "zoo")]
                let widened;
                #[cfg(feature = "zoo")]
                let seen = match local {
                    Some(r) if crate::zoo::active(crate::zoo::Bug::DvvIgnoresContext) => {
                        let mut all = r.context.clone();
                        all.join(seen);
                        widened = all;
                        &widened
                    }
                    _ => seen,
                };
                let (minted, returned) =
                    DvvRecord::mint(local, seen, incarnation.actor(), value.clone(), written_ms)?;
                let minted = Record::Dvv(minted);
                write_stored(table, key.as_str(), &minted)?;
                delta.transition(stored.map(|r| r.state()), Some(minted.state()));
                notify(&key, Some(&minted));
                Ok((minted, returned))
            })();
            match result {
                Ok(out) => Reply::Mint(reply, out),
                Err(e) => Reply::Failed(
                    WriteOp::Mint {
                        key,
                        client_context,
                        value,
                        written_ms,
                        reply,
                    },
                    e,
                ),
            }
        }
        WriteOp::Purge {
            key,
            expected,
            reply,
        } => {
            let result = (|| {
                let stored = read_stored(table, key.as_str())?;
                if stored.as_ref() != Some(&expected) {
                    return Ok(false);
                }
                table.remove(key.as_str()).map_err(engine)?;
                // Forgetting a record that holds this incarnation's dots would
                // let the next write to the key re-issue them: move on to a
                // new incarnation, persisted in the purge's own transaction.
                let forgets_own_dots = holds_dots_of(&expected, incarnation);
                // zoo: doomstone — keep the actor after purging its dots;
                // actor-reuse — one fixed actor forever, purges included.
                #[cfg(feature = "zoo")]
                let forgets_own_dots = forgets_own_dots
                    && !crate::zoo::active(crate::zoo::Bug::Doomstone)
                    && !crate::zoo::active(crate::zoo::Bug::ActorReuse);
                if forgets_own_dots {
                    let next = incarnation.next();
                    tables
                        .meta
                        .insert(META_INCARNATION, next.epoch())
                        .map_err(engine)?;
                    tracing::info!(
                        actor = %next.actor(),
                        "tombstone GC purged this incarnation's dots; starting a new DVV incarnation"
                    );
                    *incarnation = next;
                }
                delta.transition(Some(expected.state()), None);
                notify(&key, None);
                if expected.state() == RecordState::Tombstone {
                    delta.purged += 1;
                }
                Ok(true)
            })();
            match result {
                Ok(removed) => Reply::Purge(reply, removed),
                Err(e) => Reply::Failed(
                    WriteOp::Purge {
                        key,
                        expected,
                        reply,
                    },
                    e,
                ),
            }
        }
        other @ (WriteOp::Shutdown { .. }
        | WriteOp::PutHint { .. }
        | WriteOp::DeleteHints { .. }) => Reply::Failed(other, StorageError::WriterGone),
    }
}

impl Reply {
    fn send(self) {
        // A dropped receiver means the requester gave up (timeout); fine.
        match self {
            Reply::Merge(tx, record) => {
                let _ = tx.send(Ok(record));
            }
            Reply::Mint(tx, out) => {
                let _ = tx.send(Ok(out));
            }
            Reply::Purge(tx, removed) => {
                let _ = tx.send(Ok(removed));
            }
            Reply::Done(tx) => {
                let _ = tx.send(Ok(()));
            }
            Reply::Failed(op, e) => fail(op, e),
        }
    }
}

fn fail(op: WriteOp, e: StorageError) {
    match op {
        WriteOp::Merge { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        WriteOp::Mint { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        WriteOp::Purge { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        WriteOp::Shutdown { reply }
        | WriteOp::PutHint { reply, .. }
        | WriteOp::DeleteHints { reply, .. } => {
            let _ = reply.send(Err(e));
        }
    }
}

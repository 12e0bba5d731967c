//! Durable per-key storage on redb, one database file per data dir.
//!
//! redb is a pure-Rust, ACID, copy-on-write B-tree store: no C toolchain, a
//! single file, MVCC readers that never block the writer, and explicit
//! per-commit durability (`Immediate` fsyncs, `None` does not), which maps
//! directly onto `storage.fsync`. See docs/architecture.md.
//!
//! Reads open a read transaction on the caller's thread. Every mutation goes
//! through the single [`writer`] thread, which applies a read-merge-write per
//! key inside one transaction per batch (group commit). Because it is the
//! only mutator, per-key merges need no locks and the live-key / tombstone
//! gauges it maintains are exact.

mod writer;

use crate::config::FsyncPolicy;
use crate::metrics::Metrics;
use crate::types::{ConflictMode, Key, NodeId};
use crate::version::{CausalContext, Record, RecordState};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;
use tokio::sync::oneshot;

pub(crate) const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
pub(crate) const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// Hinted handoff queue: `target id, 0x00, big-endian sequence` → hint.
pub(crate) const HINTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("hints");
const META_CONFLICT_MODE: &str = "conflict_mode";

/// A storage failure; the node answers the request as failed (the replica
/// does not ack) and logs it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("storage engine: {0}")]
    Engine(String),
    #[error("corrupt record for key {key:?}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("data dir was written in {stored} mode; this cluster runs {configured}")]
    ModeMismatch {
        stored: String,
        configured: ConflictMode,
    },
    #[error("the storage writer has stopped")]
    WriterGone,
}

pub(crate) fn engine<E: std::fmt::Display>(e: E) -> StorageError {
    StorageError::Engine(e.to_string())
}

/// Told about every committed change to a key, from the writer thread; it
/// must be quick and must not wait on anything that waits on the writer.
/// Anti-entropy keeps its Merkle trees current through this.
pub trait ChangeObserver: Send + Sync {
    /// `key` now holds `new` (`None`: purged).
    fn changed(&self, key: &Key, new: Option<&Record>);
}

/// One stored hint as (id, encoded hint); [`crate::hints`] owns the format.
pub type StoredHintBytes = (Vec<u8>, Vec<u8>);

/// A mutation queued for the writer thread.
pub(crate) enum WriteOp {
    /// Merge `record` into the stored version; reply with the result.
    Merge {
        key: Key,
        record: Record,
        /// Under `fsync = "always"`, whether the reply must wait for a
        /// durable commit. Anti-entropy repairs need not (a lost repair is
        /// redone next round), which keeps a big repair from paying one
        /// fsync per entry.
        durable: bool,
        reply: oneshot::Sender<Result<Record, StorageError>>,
    },
    /// Mint a DVV write on top of the stored version (this node is a replica
    /// of `key`); reply with the new record and the client's new context.
    Mint {
        key: Key,
        client_context: CausalContext,
        node: NodeId,
        value: Option<String>,
        written_ms: u64,
        reply: oneshot::Sender<Result<(Record, CausalContext), StorageError>>,
    },
    /// Delete the record if it still equals `expected` (tombstone GC).
    Purge {
        key: Key,
        expected: Record,
        reply: oneshot::Sender<Result<bool, StorageError>>,
    },
    /// Queue a hint (hinted handoff).
    PutHint {
        id: Vec<u8>,
        hint: Vec<u8>,
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
    /// Remove replayed or expired hints.
    DeleteHints {
        ids: Vec<Vec<u8>>,
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
    /// Make everything durable, then stop.
    Shutdown {
        reply: oneshot::Sender<Result<(), StorageError>>,
    },
}

/// Handle to one node's store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writes: mpsc::Sender<WriteOp>,
    mode: ConflictMode,
}

impl Store {
    /// Opens (or creates) `dir/converge.redb`, checks it belongs to this
    /// conflict mode, initialises the gauges and starts the writer thread.
    pub fn open(
        dir: &Path,
        mode: ConflictMode,
        fsync: FsyncPolicy,
        fsync_interval: Duration,
        metrics: Arc<Metrics>,
        observer: Option<Arc<dyn ChangeObserver>>,
    ) -> Result<Store, StorageError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| engine(format!("create {}: {e}", dir.display())))?;
        let db = Database::create(dir.join("converge.redb")).map_err(engine)?;
        let txn = db.begin_write().map_err(engine)?;
        {
            txn.open_table(RECORDS).map_err(engine)?;
            txn.open_table(HINTS).map_err(engine)?;
            let mut meta = txn.open_table(META).map_err(engine)?;
            let stored = meta
                .get(META_CONFLICT_MODE)
                .map_err(engine)?
                .map(|g| g.value().to_owned());
            match stored {
                Some(s) if s != mode.to_string() => {
                    return Err(StorageError::ModeMismatch {
                        stored: s,
                        configured: mode,
                    });
                }
                Some(_) => {}
                None => {
                    meta.insert(META_CONFLICT_MODE, mode.to_string().as_str())
                        .map_err(engine)?;
                }
            }
        }
        txn.commit().map_err(engine)?;
        let db = Arc::new(db);
        let (mut live, mut tombstones) = (0i64, 0i64);
        scan_db(&db, |_, record| match record.state() {
            RecordState::Live => live += 1,
            RecordState::Tombstone => tombstones += 1,
        })?;
        metrics.keys_live.store(live, Ordering::Relaxed);
        metrics.tombstones_live.store(tombstones, Ordering::Relaxed);
        let writes = writer::spawn(db.clone(), fsync, fsync_interval, metrics, observer)?;
        Ok(Store { db, writes, mode })
    }

    /// The conflict mode of this store.
    pub fn mode(&self) -> ConflictMode {
        self.mode
    }

    /// The stored record of `key`, if any (tombstones included).
    pub fn read(&self, key: &Key) -> Result<Option<Record>, StorageError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        let guard = table.get(key.as_str()).map_err(engine)?;
        guard
            .map(|g| {
                Record::from_bytes(g.value()).map_err(|e| StorageError::Corrupt {
                    key: key.as_str().to_owned(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Calls `visit` for every stored record, in key order, from one
    /// consistent snapshot.
    pub fn scan(&self, visit: impl FnMut(Key, Record)) -> Result<(), StorageError> {
        scan_db(&self.db, visit)
    }

    /// Merges `record` into `key`'s stored version; returns the merged
    /// record once committed (durably, under `fsync = "always"`).
    pub async fn merge(&self, key: Key, record: Record) -> Result<Record, StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Merge {
            key,
            record,
            durable: true,
            reply,
        })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// [`Store::merge`] for anti-entropy sessions on a blocking thread (never
    /// call it from an async task: it parks the thread until the commit).
    /// The commit is not forced to disk even under `fsync = "always"`: a
    /// repair lost in a crash is simply found and redone by the next round.
    pub fn merge_blocking(&self, key: Key, record: Record) -> Result<Record, StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Merge {
            key,
            record,
            durable: false,
            reply,
        })?;
        rx.blocking_recv().map_err(|_| StorageError::WriterGone)?
    }

    /// Mints a DVV write on this replica (see [`crate::version::DvvRecord::mint`]).
    pub async fn mint(
        &self,
        key: Key,
        client_context: CausalContext,
        node: NodeId,
        value: Option<String>,
        written_ms: u64,
    ) -> Result<(Record, CausalContext), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Mint {
            key,
            client_context,
            node,
            value,
            written_ms,
            reply,
        })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Removes `key` if its record still equals `expected`; true if removed.
    pub async fn purge_if_unchanged(
        &self,
        key: Key,
        expected: Record,
    ) -> Result<bool, StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Purge {
            key,
            expected,
            reply,
        })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Stores one hint under `id` (see [`crate::hints`] for the layout).
    pub async fn put_hint(&self, id: Vec<u8>, hint: Vec<u8>) -> Result<(), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::PutHint { id, hint, reply })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Removes hints by id.
    pub async fn delete_hints(&self, ids: Vec<Vec<u8>>) -> Result<(), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::DeleteHints { ids, reply })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    /// Up to `limit` hints whose id starts with `prefix`, in id order.
    pub fn hints_with_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<StoredHintBytes>, StorageError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(HINTS).map_err(engine)?;
        let mut out = Vec::new();
        for entry in table.range(prefix..).map_err(engine)? {
            let (id, hint) = entry.map_err(engine)?;
            if !id.value().starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((id.value().to_vec(), hint.value().to_vec()));
        }
        Ok(out)
    }

    /// Every hint id (startup backlog count).
    pub fn hint_ids(&self) -> Result<Vec<Vec<u8>>, StorageError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(HINTS).map_err(engine)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(engine)? {
            let (id, _) = entry.map_err(engine)?;
            out.push(id.value().to_vec());
        }
        Ok(out)
    }

    /// Makes every commit durable and stops the writer (clean shutdown).
    pub async fn shutdown(&self) -> Result<(), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.submit(WriteOp::Shutdown { reply })?;
        rx.await.map_err(|_| StorageError::WriterGone)?
    }

    fn submit(&self, op: WriteOp) -> Result<(), StorageError> {
        self.writes.send(op).map_err(|_| StorageError::WriterGone)
    }
}

fn scan_db(db: &Database, mut visit: impl FnMut(Key, Record)) -> Result<(), StorageError> {
    let txn = db.begin_read().map_err(engine)?;
    let table = txn.open_table(RECORDS).map_err(engine)?;
    for entry in table.iter().map_err(engine)? {
        let (k, v) = entry.map_err(engine)?;
        let key = k.value().to_owned();
        let record = Record::from_bytes(v.value()).map_err(|e| StorageError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        visit(Key::from_stored(key), record);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::HlcTimestamp;
    use crate::version::LwwRecord;

    fn lww(ts: u64, value: Option<&str>) -> Record {
        Record::Lww(LwwRecord {
            timestamp: HlcTimestamp {
                physical_us: ts,
                logical: 0,
            },
            coordinator: NodeId::new("n1"),
            value: value.map(str::to_owned),
        })
    }

    #[tokio::test]
    async fn merges_persist_across_reopen_and_gauges_follow() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::new());
        let open = |m: Arc<Metrics>| {
            Store::open(
                dir.path(),
                ConflictMode::Lww,
                FsyncPolicy::Always,
                Duration::from_millis(10),
                m,
                None,
            )
        };
        let store = open(metrics.clone()).unwrap();
        let key = Key::parse("k").unwrap();
        store.merge(key.clone(), lww(2, Some("new"))).await.unwrap();
        let merged = store.merge(key.clone(), lww(1, Some("old"))).await.unwrap();
        assert_eq!(merged.values(), vec!["new".to_string()]);
        store
            .merge(Key::parse("gone").unwrap(), lww(3, None))
            .await
            .unwrap();
        assert_eq!(metrics.keys_live.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.tombstones_live.load(Ordering::Relaxed), 1);
        store.shutdown().await.unwrap();
        drop(store);

        let metrics = Arc::new(Metrics::new());
        let store = open(metrics.clone()).unwrap();
        assert_eq!(
            store.read(&key).unwrap().unwrap().values(),
            vec!["new".to_string()]
        );
        assert_eq!(metrics.keys_live.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.tombstones_live.load(Ordering::Relaxed), 1);
        assert!(
            store
                .purge_if_unchanged(Key::parse("gone").unwrap(), lww(3, None))
                .await
                .unwrap()
        );
        assert!(
            !store
                .purge_if_unchanged(key.clone(), lww(9, None))
                .await
                .unwrap()
        );
        assert_eq!(metrics.tombstones_live.load(Ordering::Relaxed), 0);
        store.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn refuses_a_data_dir_of_the_other_conflict_mode() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(Metrics::new());
        let store = Store::open(
            dir.path(),
            ConflictMode::Lww,
            FsyncPolicy::Never,
            Duration::from_millis(10),
            m.clone(),
            None,
        )
        .unwrap();
        store.shutdown().await.unwrap();
        drop(store);
        let err = Store::open(
            dir.path(),
            ConflictMode::Dvv,
            FsyncPolicy::Never,
            Duration::from_millis(10),
            m,
            None,
        )
        .err();
        assert!(matches!(err, Some(StorageError::ModeMismatch { .. })));
    }
}
